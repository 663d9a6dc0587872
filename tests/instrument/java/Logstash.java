// Encodes one logging event a stdin line with logstash-logback-encoder's LogstashEncoder
// (Debian's liblogstash-logback-encoder-java) in UTC. A line is JSON: timestamp (ms),
// level, logger, thread, message, mdc (an object), and optionally exception (a message).
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxy;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import net.logstash.logback.encoder.LogstashEncoder;

public class Logstash {
    public static void main(String[] args) throws Exception {
        LoggerContext context = new LoggerContext();
        LogstashEncoder encoder = new LogstashEncoder();
        encoder.setContext(context);
        encoder.setTimeZone("UTC");
        encoder.start();
        ObjectMapper mapper = new ObjectMapper();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String row;
        while ((row = in.readLine()) != null) {
            JsonNode spec = mapper.readTree(row);
            LoggingEvent event = new LoggingEvent();
            event.setLoggerContextRemoteView(context.getLoggerContextRemoteView());
            event.setTimeStamp(spec.get("timestamp").asLong());
            event.setLevel(Level.toLevel(spec.get("level").asText()));
            event.setLoggerName(spec.get("logger").asText());
            event.setThreadName(spec.get("thread").asText());
            event.setMessage(spec.get("message").asText());
            Map<String, String> mdc = new LinkedHashMap<>();
            spec.get("mdc").fields().forEachRemaining(e -> mdc.put(e.getKey(), e.getValue().asText()));
            event.setMDCPropertyMap(mdc);
            if (spec.has("exception")) {
                event.setThrowableProxy(new ThrowableProxy(new IllegalStateException(spec.get("exception").asText())));
            }
            System.out.print(new String(encoder.encode(event), StandardCharsets.UTF_8));
        }
    }
}
