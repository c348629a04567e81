package org.janus.runtime;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * A positive number of seconds as given on the command line ({@code --timeout 2.5}): the text, passed on to the
 * in-framework commands as it was written, and the milliseconds it means.
 */
record Seconds(String text, long millis) {

    /** picocli's converter for options of this type. */
    static final class Converter implements ITypeConverter<Seconds> {
        @Override
        public Seconds convert(String value) {
            double seconds;
            try {
                seconds = Double.parseDouble(value);
            } catch (NumberFormatException e) {
                seconds = Double.NaN;
            }
            // NaN fails this test too.
            if (!(seconds > 0) || Double.isInfinite(seconds)) {
                throw new TypeConversionException("'" + value + "' is not a positive number of seconds");
            }
            return new Seconds(value, Math.max(1, Math.round(seconds * 1000)));
        }
    }
}
