package ticketctl.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.StringSetting;

/**
 * The {@code asciifolding} token filter of Elasticsearch's analysis-common module, on the same
 * Lucene class, for the integ-test-zip that ships without that module.
 *
 * Like analysis-common's factory it honours {@code preserve_original} (default false) and folds
 * without keeping the original when used in a normalizer.
 */
@NamedComponent("asciifolding")
public final class AsciiFoldingFilterFactory implements TokenFilterFactory {

    /** The options of the filter, as an index's analysis settings give them. */
    @AnalysisSettings
    public interface Settings {
        @StringSetting(path = "preserve_original", defaultValue = "false")
        String preserveOriginal();
    }

    private final boolean preserveOriginal;

    @Inject
    public AsciiFoldingFilterFactory(Settings settings) {
        this.preserveOriginal = Options.parseBoolean(settings.preserveOriginal(), false);
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        return new ASCIIFoldingFilter(tokenStream, preserveOriginal);
    }

    @Override
    public TokenStream normalize(TokenStream tokenStream) {
        return new ASCIIFoldingFilter(tokenStream, false);
    }
}
