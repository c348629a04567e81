package org.janus.hostreport.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import org.janus.hostreport.HostReport;
import org.janus.hostreport.MemoryStrategy;

/** The report as JSON: the records' components by name, strategies by {@link MemoryStrategy#id()}. */
final class JsonCodec {
    private final Gson gson = new GsonBuilder()
            .registerTypeAdapter(MemoryStrategy.class, new StrategyAdapter().nullSafe())
            .setPrettyPrinting()
            .disableHtmlEscaping()
            .create();

    String toJson(HostReport report) {
        return gson.toJson(report);
    }

    HostReport fromJson(String json) {
        return gson.fromJson(json, HostReport.class);
    }

    private static final class StrategyAdapter extends TypeAdapter<MemoryStrategy> {
        @Override
        public void write(JsonWriter out, MemoryStrategy value) throws IOException {
            out.value(value.id());
        }

        @Override
        public MemoryStrategy read(JsonReader in) throws IOException {
            return MemoryStrategy.ofId(in.nextString());
        }
    }
}
