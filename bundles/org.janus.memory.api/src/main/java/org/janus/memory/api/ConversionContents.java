package org.janus.memory.api;

/**
 * What a page of guest RAM reads after it changed face (private to shared or back). It is a property of the memory
 * strategy and the hardware together: a backend that keeps one page for both faces keeps the bytes, but SEV-SNP and
 * TDX hardware ties private contents to the guest's key, whatever the strategy.
 */
public enum ConversionContents {
    /**
     * The page reads what it held: one page serves both faces and the hardware leaves it as it is (in place on a
     * software-protected VM or a pKVM protected VM).
     */
    PRESERVED,
    /**
     * The page reads zero: the face it came to is another page, discarded when the page left it (the legacy strategy
     * on a VM without memory encryption).
     */
    ZEROED,
    /**
     * The page reads neither what it held nor reliably zero, and never the other face's plaintext: SEV-SNP shows the
     * host ciphertext and the guest the decryption of what the host left, TDX shows zeros once the guest has accepted
     * the page (in place and legacy alike).
     */
    LOST;

    /**
     * What a page reads after a conversion.
     *
     * @param strategyKeepsPage whether the memory strategy keeps one page for both faces ({@link GuestRam#preservesContents()})
     * @param hardwareKeepsPlaintext whether the hardware leaves a page's bytes as they are when it changes owner
     */
    public static ConversionContents of(boolean strategyKeepsPage, boolean hardwareKeepsPlaintext) {
        if (!hardwareKeepsPlaintext) return LOST;
        return strategyKeepsPage ? PRESERVED : ZEROED;
    }
}
