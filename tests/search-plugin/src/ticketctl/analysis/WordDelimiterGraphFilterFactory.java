package ticketctl.analysis;

import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterGraphFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterIterator;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.ListSetting;
import org.elasticsearch.plugin.settings.StringSetting;

/**
 * The {@code word_delimiter_graph} token filter of Elasticsearch's analysis-common module, on the
 * same Lucene class: the tests' "changed analyzer" (a change that needs a new index version) uses it.
 *
 * It honours the inline options with analysis-common's defaults: the ten flags, {@code adjust_offsets},
 * {@code protected_words} and {@code type_table}. The file forms ({@code protected_words_path},
 * {@code type_table_path}) are not read: this plugin has no access to the node's config folder.
 */
@NamedComponent("word_delimiter_graph")
public final class WordDelimiterGraphFilterFactory implements TokenFilterFactory {

    /** The options of the filter, as an index's analysis settings give them. */
    @AnalysisSettings
    public interface Settings {
        @StringSetting(path = "generate_word_parts", defaultValue = "true")
        String generateWordParts();

        @StringSetting(path = "generate_number_parts", defaultValue = "true")
        String generateNumberParts();

        @StringSetting(path = "catenate_words", defaultValue = "false")
        String catenateWords();

        @StringSetting(path = "catenate_numbers", defaultValue = "false")
        String catenateNumbers();

        @StringSetting(path = "catenate_all", defaultValue = "false")
        String catenateAll();

        @StringSetting(path = "split_on_case_change", defaultValue = "true")
        String splitOnCaseChange();

        @StringSetting(path = "preserve_original", defaultValue = "false")
        String preserveOriginal();

        @StringSetting(path = "split_on_numerics", defaultValue = "true")
        String splitOnNumerics();

        @StringSetting(path = "stem_english_possessive", defaultValue = "true")
        String stemEnglishPossessive();

        @StringSetting(path = "ignore_keywords", defaultValue = "false")
        String ignoreKeywords();

        @StringSetting(path = "adjust_offsets", defaultValue = "true")
        String adjustOffsets();

        @ListSetting(path = "protected_words")
        List<String> protectedWords();

        @ListSetting(path = "type_table")
        List<String> typeTable();
    }

    private static final Pattern TYPE_RULE = Pattern.compile("(.*)\\s*=>\\s*(.*)\\s*$");

    private final int flags;
    private final boolean adjustOffsets;
    private final byte[] charTypeTable;
    private final CharArraySet protectedWords;

    @Inject
    public WordDelimiterGraphFilterFactory(Settings settings) {
        int flags = 0;
        flags |= flag(WordDelimiterGraphFilter.GENERATE_WORD_PARTS, settings.generateWordParts(), true);
        flags |= flag(WordDelimiterGraphFilter.GENERATE_NUMBER_PARTS, settings.generateNumberParts(), true);
        flags |= flag(WordDelimiterGraphFilter.CATENATE_WORDS, settings.catenateWords(), false);
        flags |= flag(WordDelimiterGraphFilter.CATENATE_NUMBERS, settings.catenateNumbers(), false);
        flags |= flag(WordDelimiterGraphFilter.CATENATE_ALL, settings.catenateAll(), false);
        flags |= flag(WordDelimiterGraphFilter.SPLIT_ON_CASE_CHANGE, settings.splitOnCaseChange(), true);
        flags |= flag(WordDelimiterGraphFilter.PRESERVE_ORIGINAL, settings.preserveOriginal(), false);
        flags |= flag(WordDelimiterGraphFilter.SPLIT_ON_NUMERICS, settings.splitOnNumerics(), true);
        flags |= flag(WordDelimiterGraphFilter.STEM_ENGLISH_POSSESSIVE, settings.stemEnglishPossessive(), true);
        flags |= flag(WordDelimiterGraphFilter.IGNORE_KEYWORDS, settings.ignoreKeywords(), false);
        this.flags = flags;
        this.adjustOffsets = Options.parseBoolean(settings.adjustOffsets(), true);
        List<String> words = settings.protectedWords();
        this.protectedWords = words.isEmpty() ? null : new CharArraySet(words, false);
        List<String> rules = settings.typeTable();
        this.charTypeTable = rules.isEmpty() ? WordDelimiterIterator.DEFAULT_WORD_DELIM_TABLE : parseTypes(rules);
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        return new WordDelimiterGraphFilter(tokenStream, adjustOffsets, charTypeTable, flags, protectedWords);
    }

    private static int flag(int flag, String value, boolean defaultValue) {
        return Options.parseBoolean(value, defaultValue) ? flag : 0;
    }

    /** A character type table from rules such as {@code "$ => DIGIT"} or {@code "\\u200D => ALPHANUM"}. */
    static byte[] parseTypes(List<String> rules) {
        TreeMap<Character, Byte> types = new TreeMap<>();
        for (int line = 1; line <= rules.size(); line++) {
            String rule = rules.get(line - 1);
            Matcher match = TYPE_RULE.matcher(rule);
            if (!match.find()) {
                throw invalidRule(line, rule, "");
            }
            String character = unescape(match.group(1).trim());
            Byte type = typeNamed(match.group(2).trim());
            if (character.length() != 1) {
                throw invalidRule(line, rule, ". Only a single character is allowed.");
            }
            if (type == null) {
                throw invalidRule(line, rule, ". Illegal type.");
            }
            types.put(character.charAt(0), type);
        }
        int size = Math.max(types.lastKey() + 1, WordDelimiterIterator.DEFAULT_WORD_DELIM_TABLE.length);
        byte[] table = new byte[size];
        for (int codePoint = 0; codePoint < size; codePoint++) {
            table[codePoint] = WordDelimiterIterator.getType(codePoint);
        }
        types.forEach((character, type) -> table[character] = type);
        return table;
    }

    private static IllegalArgumentException invalidRule(int line, String rule, String why) {
        return new IllegalArgumentException(
            String.format(Locale.ROOT, "Line [%d]: Invalid mapping rule: [%s]%s", line, rule, why)
        );
    }

    // The character types are public only on the deprecated WordDelimiterFilter (WordDelimiterIterator
    // keeps them package-private); analysis-common reads them from there too.
    @SuppressWarnings("deprecation")
    private static Byte typeNamed(String name) {
        switch (name) {
            case "LOWER":
                return (byte) WordDelimiterFilter.LOWER;
            case "UPPER":
                return (byte) WordDelimiterFilter.UPPER;
            case "ALPHA":
                return (byte) WordDelimiterFilter.ALPHA;
            case "DIGIT":
                return (byte) WordDelimiterFilter.DIGIT;
            case "ALPHANUM":
                return (byte) WordDelimiterFilter.ALPHANUM;
            case "SUBWORD_DELIM":
                return (byte) WordDelimiterFilter.SUBWORD_DELIM;
            default:
                return null;
        }
    }

    /** The text of a rule's left side with the escapes \\, \n, \t, \r, \b, \f and \\uXXXX resolved. */
    private static String unescape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int at = 0;
        while (at < text.length()) {
            char c = text.charAt(at++);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (at >= text.length()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "Invalid escaped char in [%s]", text));
            }
            char escaped = text.charAt(at++);
            switch (escaped) {
                case 'n': out.append('\n'); break;
                case 't': out.append('\t'); break;
                case 'r': out.append('\r'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'u':
                    if (at + 4 > text.length()) {
                        throw new IllegalArgumentException(
                            String.format(Locale.ROOT, "Invalid escaped char in [%s]", text)
                        );
                    }
                    out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    at += 4;
                    break;
                default: out.append(escaped);
            }
        }
        return out.toString();
    }
}
