package ticketctl.analysis;

import java.util.Locale;

/**
 * Reads option values the way Elasticsearch's analysis-common module does.
 *
 * The stable plugin API parses a {@code @BooleanSetting} with {@code Boolean.valueOf}, which takes
 * "yes" or "1" for false without a word. analysis-common refuses anything but "true" and "false"
 * (Elasticsearch's {@code Booleans.parseBoolean}), so the factories read booleans as strings and
 * parse them here, with the same message, so that a typo fails on both engines alike.
 */
final class Options {
    private Options() {}

    static boolean parseBoolean(String value, boolean defaultValue) {
        if (value == null || value.isBlank()) {
            return defaultValue;
        }
        if (value.equals("true")) {
            return true;
        }
        if (value.equals("false")) {
            return false;
        }
        throw new IllegalArgumentException(
            String.format(Locale.ROOT, "Failed to parse value [%s] as only [true] or [false] are allowed.", value)
        );
    }
}
