package org.janus.qmp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonFramerTest {
    private final List<JsonFramer.Piece> out = new ArrayList<>();

    private void feed(JsonFramer f, String s) throws JsonFramer.Overflow {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        f.feed(b, 0, b.length, out::add);
    }

    private List<String> messages() {
        return out.stream().map(p -> p instanceof JsonFramer.Piece.Message m ? m.json() : "!" + ((JsonFramer.Piece.Garbage) p).why()).toList();
    }

    @Test
    void messagesEndWhereTheirOutermostValueCloses() throws Exception {
        JsonFramer f = new JsonFramer(1 << 20, 64);
        feed(f, " {\"a\": [1, {\"b\": \"}]\\\"{\"}]}\r\n{\"c\"");
        feed(f, ":2}[3] 42 \"s\"\n");
        assertEquals(List.of("{\"a\": [1, {\"b\": \"}]\\\"{\"}]}", "{\"c\":2}", "[3]", "42", "\"s\""), messages());
    }

    @Test
    void byteByByteGivesTheSameMessages() throws Exception {
        JsonFramer f = new JsonFramer(1 << 20, 64);
        String text = "{\"execute\":\"query-status\",\"arguments\":{\"x\":\"\u00e9{\"}}{\"execute\":\"stop\"}";
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) f.feed(new byte[] {b}, 0, 1, out::add);
        assertEquals(List.of("{\"execute\":\"query-status\",\"arguments\":{\"x\":\"\u00e9{\"}}", "{\"execute\":\"stop\"}"), messages());
    }

    @Test
    void aControlCharacterDropsTheUnfinishedMessage() throws Exception {
        JsonFramer f = new JsonFramer(1 << 20, 64);
        feed(f, "{\"execute\": \"st\u0001{\"execute\":\"cont\"}");
        assertEquals(2, out.size());
        assertInstanceOf(JsonFramer.Piece.Garbage.class, out.get(0));
        assertEquals("{\"execute\":\"cont\"}", ((JsonFramer.Piece.Message) out.get(1)).json());
        out.clear();
        f.feed(new byte[] {(byte) 0xff}, 0, 1, out::add);
        assertInstanceOf(JsonFramer.Piece.Garbage.class, out.get(0));
    }

    @Test
    void boundsAreOverflows() {
        JsonFramer small = new JsonFramer(16, 64);
        assertThrows(JsonFramer.Overflow.class, () -> feed(small, "{\"a\": \"0123456789abcdef\"}"));
        JsonFramer shallow = new JsonFramer(1 << 20, 4);
        assertThrows(JsonFramer.Overflow.class, () -> feed(shallow, "[[[[[1]]]]]"));
    }
}
