package org.janus.kvm.linux.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every struct size, field offset and ioctl number of this provider against the numbers written in the KVM uAPI
 * reference (kvm-uapi.md: the §0.3 table and the struct listings), typed in here independently of the code. Runs
 * everywhere; the header cross-check then holds the same numbers against the kernel's own headers.
 */
class ReferenceLayoutTest {

    /** §0.3, "Hex" column. */
    private static final Map<String, Long> IOCTLS = Map.ofEntries(
            Map.entry("KVM_GET_API_VERSION", 0x0000AE00L),
            Map.entry("KVM_CREATE_VM", 0x0000AE01L),
            Map.entry("KVM_CHECK_EXTENSION", 0x0000AE03L),
            Map.entry("KVM_GET_VCPU_MMAP_SIZE", 0x0000AE04L),
            Map.entry("KVM_GET_SUPPORTED_CPUID", 0xC008AE05L),
            Map.entry("KVM_CREATE_VCPU", 0x0000AE41L),
            Map.entry("KVM_SET_TSS_ADDR", 0x0000AE47L),
            Map.entry("KVM_SET_IDENTITY_MAP_ADDR", 0x4008AE48L),
            Map.entry("KVM_CREATE_IRQCHIP", 0x0000AE60L),
            // Not in §0.3: typed from api.rst's _IOW(KVMIO, 0x61, struct kvm_irq_level) and
            // _IOW(KVMIO, 0x77, struct kvm_pit_config) with the 8- and 64-byte structs.
            Map.entry("KVM_IRQ_LINE", 0x4008AE61L),
            Map.entry("KVM_CREATE_PIT2", 0x4040AE77L),
            Map.entry("KVM_SET_USER_MEMORY_REGION2", 0x40A0AE49L),
            Map.entry("KVM_RUN", 0x0000AE80L),
            Map.entry("KVM_GET_REGS", 0x8090AE81L),
            Map.entry("KVM_SET_REGS", 0x4090AE82L),
            Map.entry("KVM_GET_SREGS", 0x8138AE83L),
            Map.entry("KVM_SET_SREGS", 0x4138AE84L),
            Map.entry("KVM_SET_CPUID2", 0x4008AE90L),
            Map.entry("KVM_ENABLE_CAP", 0x4068AEA3L),
            Map.entry("KVM_MEMORY_ENCRYPT_OP", 0xC008AEBAL),
            Map.entry("KVM_SET_MEMORY_ATTRIBUTES", 0x4020AED2L),
            Map.entry("KVM_SET_MEMORY_ATTRIBUTES2", 0xC080AED2L),
            Map.entry("KVM_CREATE_GUEST_MEMFD", 0xC040AED4L),
            Map.entry("KVM_PRE_FAULT_MEMORY", 0xC040AED5L),
            Map.entry("KVM_SET_DEVICE_ATTR", 0x4018AEE1L),
            Map.entry("KVM_GET_DEVICE_ATTR", 0x4018AEE2L),
            Map.entry("KVM_HAS_DEVICE_ATTR", 0x4018AEE3L));

    /** Struct sizes from the listings (§1.4, §2.2, §3.1, §4.1, §4.4, §1.6, §5.1, §5.2, §6.2) and §0.3. */
    private static final Map<String, Integer> SIZES = Map.ofEntries(
            Map.entry("kvm_run", 2352),
            Map.entry("kvm_userspace_memory_region2", 160),
            Map.entry("kvm_memory_attributes", 32),
            Map.entry("kvm_memory_attributes2", 128),
            Map.entry("kvm_create_guest_memfd", 64),
            Map.entry("kvm_enable_cap", 104),
            Map.entry("kvm_device_attr", 24),
            Map.entry("kvm_regs", 144),
            Map.entry("kvm_sregs", 312),
            Map.entry("kvm_cpuid2", 8),
            Map.entry("kvm_cpuid_entry2", 40),
            Map.entry("kvm_pre_fault_memory", 64),
            Map.entry("kvm_sev_cmd", 24),
            Map.entry("kvm_tdx_cmd", 24),
            Map.entry("kvm_tdx_capabilities", 2056),
            Map.entry("kvm_tdx_init_vm", 264),
            Map.entry("kvm_tdx_init_mem_region", 24));

    /** Structs the reference gives no size for (checked against the headers only). */
    private static final Set<String> SIZES_NOT_IN_REFERENCE = Set.of("kvm_segment", "kvm_dtable", "kvm_irq_level",
            "kvm_pit_config");

    /** Member offsets from the listings, as "struct.member". */
    private static final Map<String, Integer> OFFSETS = offsets();

    /**
     * Members the reference does not list (the kvm_run unions it leaves out, the x86 register structs it gives only
     * as a size): checked against the headers only.
     */
    private static final Set<String> OFFSETS_NOT_IN_REFERENCE = Set.of(
            "kvm_run.fail_entry.hardware_entry_failure_reason", "kvm_run.fail_entry.cpu",
            "kvm_run.internal.suberror", "kvm_run.internal.ndata", "kvm_run.internal.data",
            "kvm_pre_fault_memory.gpa", "kvm_pre_fault_memory.size", "kvm_pre_fault_memory.flags",
            "kvm_pre_fault_memory.padding");

    private static final Set<String> STRUCTS_NOT_IN_REFERENCE = Set.of("kvm_regs", "kvm_sregs", "kvm_segment", "kvm_dtable",
            "kvm_irq_level", "kvm_pit_config");

    private static Map<String, Integer> offsets() {
        Map<String, Integer> m = new LinkedHashMap<>();
        // §1.4 struct kvm_run and its exit unions
        m.put("kvm_run.request_interrupt_window", 0);
        m.put("kvm_run.immediate_exit", 1);
        m.put("kvm_run.exit_reason", 8);
        m.put("kvm_run.ready_for_interrupt_injection", 12);
        m.put("kvm_run.if_flag", 13);
        m.put("kvm_run.flags", 14);
        m.put("kvm_run.cr8", 16);
        m.put("kvm_run.apic_base", 24);
        m.put("kvm_run.kvm_valid_regs", 288);
        m.put("kvm_run.kvm_dirty_regs", 296);
        m.put("kvm_run.hypercall.nr", 32);
        m.put("kvm_run.hypercall.args", 40);
        m.put("kvm_run.hypercall.ret", 88);
        m.put("kvm_run.hypercall.flags", 96);
        m.put("kvm_run.memory_fault.flags", 32);
        m.put("kvm_run.memory_fault.gpa", 40);
        m.put("kvm_run.memory_fault.size", 48);
        m.put("kvm_run.mmio.phys_addr", 32);
        m.put("kvm_run.mmio.data", 40);
        m.put("kvm_run.mmio.len", 48);
        m.put("kvm_run.mmio.is_write", 52);
        m.put("kvm_run.io.direction", 32);
        m.put("kvm_run.io.size", 33);
        m.put("kvm_run.io.port", 34);
        m.put("kvm_run.io.count", 36);
        m.put("kvm_run.io.data_offset", 40);
        m.put("kvm_run.system_event.type", 32);
        m.put("kvm_run.system_event.ndata", 36);
        m.put("kvm_run.system_event.data", 40);
        // §2.2
        m.put("kvm_userspace_memory_region2.slot", 0);
        m.put("kvm_userspace_memory_region2.flags", 4);
        m.put("kvm_userspace_memory_region2.guest_phys_addr", 8);
        m.put("kvm_userspace_memory_region2.memory_size", 16);
        m.put("kvm_userspace_memory_region2.userspace_addr", 24);
        m.put("kvm_userspace_memory_region2.guest_memfd_offset", 32);
        m.put("kvm_userspace_memory_region2.guest_memfd", 40);
        m.put("kvm_userspace_memory_region2.pad1", 44);
        m.put("kvm_userspace_memory_region2.pad2", 48);
        // §4.1
        m.put("kvm_memory_attributes.address", 0);
        m.put("kvm_memory_attributes.size", 8);
        m.put("kvm_memory_attributes.attributes", 16);
        m.put("kvm_memory_attributes.flags", 24);
        // §4.4 (v7/v8 form)
        m.put("kvm_memory_attributes2.offset", 0);
        m.put("kvm_memory_attributes2.size", 8);
        m.put("kvm_memory_attributes2.attributes", 16);
        m.put("kvm_memory_attributes2.flags", 24);
        m.put("kvm_memory_attributes2.error_offset", 32);
        m.put("kvm_memory_attributes2.reserved", 40);
        // §3.1
        m.put("kvm_create_guest_memfd.size", 0);
        m.put("kvm_create_guest_memfd.flags", 8);
        m.put("kvm_create_guest_memfd.reserved", 16);
        // §1.6
        m.put("kvm_enable_cap.cap", 0);
        m.put("kvm_enable_cap.flags", 4);
        m.put("kvm_enable_cap.args", 8);
        m.put("kvm_enable_cap.pad", 40);
        // §5.2
        m.put("kvm_device_attr.flags", 0);
        m.put("kvm_device_attr.group", 4);
        m.put("kvm_device_attr.attr", 8);
        m.put("kvm_device_attr.addr", 16);
        // §6.2
        m.put("kvm_cpuid2.nent", 0);
        m.put("kvm_cpuid2.padding", 4);
        m.put("kvm_cpuid_entry2.function", 0);
        m.put("kvm_cpuid_entry2.index", 4);
        m.put("kvm_cpuid_entry2.flags", 8);
        m.put("kvm_cpuid_entry2.eax", 12);
        m.put("kvm_cpuid_entry2.ebx", 16);
        m.put("kvm_cpuid_entry2.ecx", 20);
        m.put("kvm_cpuid_entry2.edx", 24);
        m.put("kvm_cpuid_entry2.padding", 28);
        // §5.1
        m.put("kvm_sev_cmd.id", 0);
        m.put("kvm_sev_cmd.pad0", 4);
        m.put("kvm_sev_cmd.data", 8);
        m.put("kvm_sev_cmd.error", 16);
        m.put("kvm_sev_cmd.sev_fd", 20);
        // §6.1, §6.2
        m.put("kvm_tdx_cmd.id", 0);
        m.put("kvm_tdx_cmd.flags", 4);
        m.put("kvm_tdx_cmd.data", 8);
        m.put("kvm_tdx_cmd.hw_error", 16);
        m.put("kvm_tdx_capabilities.supported_attrs", 0);
        m.put("kvm_tdx_capabilities.supported_xfam", 8);
        m.put("kvm_tdx_capabilities.kernel_tdvmcallinfo_1_r11", 16);
        m.put("kvm_tdx_capabilities.user_tdvmcallinfo_1_r11", 24);
        m.put("kvm_tdx_capabilities.kernel_tdvmcallinfo_1_r12", 32);
        m.put("kvm_tdx_capabilities.user_tdvmcallinfo_1_r12", 40);
        m.put("kvm_tdx_capabilities.reserved", 48);
        m.put("kvm_tdx_capabilities.cpuid", 2048);
        m.put("kvm_tdx_init_vm.attributes", 0);
        m.put("kvm_tdx_init_vm.xfam", 8);
        m.put("kvm_tdx_init_vm.mrconfigid", 16);
        m.put("kvm_tdx_init_vm.mrowner", 64);
        m.put("kvm_tdx_init_vm.mrownerconfig", 112);
        m.put("kvm_tdx_init_vm.reserved", 160);
        m.put("kvm_tdx_init_vm.cpuid", 256);
        m.put("kvm_tdx_init_mem_region.source_addr", 0);
        m.put("kvm_tdx_init_mem_region.gpa", 8);
        m.put("kvm_tdx_init_mem_region.nr_pages", 16);
        return m;
    }

    @Test
    void everyIoctlNumberMatchesTheReferenceTable() throws ReflectiveOperationException {
        Map<String, Long> java = UapiFacts.ioctls();
        assertEquals(new TreeSet<>(IOCTLS.keySet()), new TreeSet<>(java.keySet()),
                "the ioctls defined in Ioctls and those checked here");
        List<String> wrong = new ArrayList<>();
        IOCTLS.forEach((name, hex) -> {
            if (!hex.equals(java.get(name)))
                wrong.add(name + ": Java 0x" + Long.toHexString(java.get(name)) + ", reference 0x" + Long.toHexString(hex));
        });
        assertTrue(wrong.isEmpty(), "ioctl numbers differing from the reference: " + wrong);
    }

    @Test
    void everyStructSizeMatchesTheReference() {
        List<String> wrong = new ArrayList<>();
        for (CStruct s : Structs.ALL) {
            if (SIZES_NOT_IN_REFERENCE.contains(s.name())) continue;
            Integer expected = SIZES.get(s.name());
            if (expected == null) wrong.add(s.name() + ": no size in the reference or in this test");
            else if (expected != s.size()) wrong.add(s.name() + ": Java " + s.size() + ", reference " + expected);
        }
        assertTrue(wrong.isEmpty(), "struct sizes differing from the reference: " + wrong);
        assertEquals(SIZES.size() + SIZES_NOT_IN_REFERENCE.size(), Structs.ALL.size(), "every struct is covered");
    }

    @Test
    void everyFieldOffsetMatchesTheReference() {
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (CStruct s : Structs.ALL) {
            for (CField f : s.fields()) {
                String key = s.name() + "." + f.member();
                Integer expected = OFFSETS.get(key);
                if (expected == null) {
                    if (!OFFSETS_NOT_IN_REFERENCE.contains(key) && !STRUCTS_NOT_IN_REFERENCE.contains(s.name()))
                        wrong.add(key + ": not in the reference listing nor marked as absent from it");
                } else {
                    checked++;
                    if (expected != f.offset()) wrong.add(key + ": Java " + f.offset() + ", reference " + expected);
                }
            }
        }
        assertTrue(wrong.isEmpty(), "field offsets differing from the reference: " + wrong);
        assertEquals(OFFSETS.size(), checked, "every offset of the reference listings is defined in Structs");
        assertEquals(8, Structs.KvmCpuid2.ENTRIES, "kvm_cpuid2.entries follows the 8-byte header");
    }

    @Test
    void theEncodingFormulaGivesTheDocumentedShape() {
        assertEquals(0xAE80L, Ioctls.io(0x80));
        assertEquals((1L << 30) | (160L << 16) | (0xAEL << 8) | 0x49, Ioctls.iow(0x49, 160));
        assertEquals((2L << 30) | (144L << 16) | (0xAEL << 8) | 0x81, Ioctls.ior(0x81, 144));
        assertEquals((3L << 30) | (128L << 16) | (0xAEL << 8) | 0xD2, Ioctls.iowr(0xD2, 128));
        // Same nr, different direction and size: the two attribute ioctls never collide.
        assertTrue(Ioctls.KVM_SET_MEMORY_ATTRIBUTES != Ioctls.KVM_SET_MEMORY_ATTRIBUTES2);
    }

    @Test
    void membersLieInsideTheirStructAndAreNaturallyAligned() {
        for (CStruct s : Structs.ALL)
            for (CField f : s.fields()) {
                assertTrue(f.offset() + f.size() <= s.size(), f + " ends beyond " + s);
                int align = f.type() != null ? 8 : f.elementSize();
                assertEquals(0, f.offset() % align, f + " is misaligned");
            }
    }
}
