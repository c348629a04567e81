package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.janus.runtime.Launcher;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * The janus Gogo commands in Felix with the Gogo runtime, run through a CommandProcessor session as the shell runs
 * them: they return values (Gogo formats them), and a failure is an exception with one clear line. Gogo's API
 * classes live in the framework, so the session is driven through reflection on the Gogo runtime bundle's classes.
 */
class JanusShellIT {
    private static final String COMMAND_PROCESSOR = "org.apache.felix.service.command.CommandProcessor";
    private static final String COMMAND_SESSION = "org.apache.felix.service.command.CommandSession";

    @Test
    void janusVmsAndFriendsThroughAGogoSession() throws Exception {
        Distribution dist = Distribution.copy("dist-janus-shell");
        Path spec = dist.home().resolve("storm.json");
        Files.writeString(spec, """
                { "name": "shelled",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "low", "gpa": 0, "size": "64M" } ] },
                  "vcpus": { "count": 2 },
                  "guest": { "program": "conversion-storm",
                             "options": { "seed": 5, "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 2 } } }
                """);
        Launcher.Started started = new Launcher(dist.home()).start(List.of("core", "sim", "linux", "machine", "shell"),
                Map.of("gosh.args", "--nointeractive"));
        try {
            assertEquals(List.of(), started.startFailures());
            Gogo gogo = Gogo.session(started.framework().getBundleContext());
            gogo.awaitCommand("(&(osgi.command.scope=janus)(osgi.command.function=vms))");

            Object none = gogo.execute("janus:vms");
            assertInstanceOf(List.class, none);
            assertEquals(0, ((List<?>) none).size());

            String id = awaitStart(gogo, spec);
            assertEquals("vm-1", id);
            Object vms = gogo.execute("janus:vms");
            assertEquals(1, ((List<?>) vms).size(), String.valueOf(vms));
            String line = gogo.format(vms).toString().strip();
            assertTrue(line.matches("vm-1 +shelled +sw-protected +RUNNING"), line);

            String map = (String) gogo.execute("janus:memmap vm-1");
            assertTrue(map.lines().anyMatch(l -> l.matches("low +0x0+ +64M guest-memfd +\\|[Pp.]{64}\\|.*")), map);

            String platforms = gogo.format(gogo.execute("janus:platforms")).toString();
            assertTrue(platforms.lines().anyMatch(l -> l.startsWith("sw-protected") && l.contains("org.janus.platform.swprotected")
                    && l.contains("preferred") && l.endsWith("vms: vm-1")), platforms);
            String swap = gogo.execute("janus:swap vm-1 backend").toString();
            assertTrue(swap.contains("already on the preferred backend guest-memfd"), swap);

            Object stopped = gogo.execute("janus:stop vm-1");
            assertTrue(stopped.toString().startsWith("vm-1 STOPPED (stopped by the host)"), stopped.toString());

            Exception unknown = gogo.fails("janus:pause vm-9");
            assertTrue(unknown.getMessage().startsWith("no VM vm-9"), unknown.getMessage());
        } finally {
            started.stop();
        }
    }

    /** janus:start, retried while the services the spec names are still being registered. */
    private static String awaitStart(Gogo gogo, Path spec) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                return (String) gogo.execute("janus:start " + spec);
            } catch (Exception e) {
                if (System.nanoTime() > deadline) throw e;
                Thread.sleep(200);
            }
        }
    }

    /** A Gogo CommandSession driven through reflection. */
    private record Gogo(BundleContext context, Object session, Class<?> sessionType) {
        static Gogo session(BundleContext context) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            ServiceReference<?>[] refs;
            while ((refs = context.getAllServiceReferences(COMMAND_PROCESSOR, null)) == null) {
                if (System.nanoTime() > deadline) fail("no Gogo CommandProcessor within 30 s");
                Thread.sleep(50);
            }
            ServiceReference<?> ref = refs[0];
            Bundle runtime = ref.getBundle();
            Class<?> processorType = runtime.loadClass(COMMAND_PROCESSOR);
            Object processor = context.getService(ref);
            assertNotNull(processor);
            InputStream in = new ByteArrayInputStream(new byte[0]);
            Object session = processorType.getMethod("createSession", InputStream.class, OutputStream.class, OutputStream.class)
                    .invoke(processor, in, new ByteArrayOutputStream(), new ByteArrayOutputStream());
            return new Gogo(context, session, runtime.loadClass(COMMAND_SESSION));
        }

        void awaitCommand(String filter) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (context.getAllServiceReferences(null, filter) == null) {
                if (System.nanoTime() > deadline) fail("no command service " + filter + " within 30 s");
                Thread.sleep(50);
            }
        }

        Object execute(String line) throws Exception {
            try {
                return sessionType.getMethod("execute", CharSequence.class).invoke(session, line);
            } catch (InvocationTargetException e) {
                throw e.getCause() instanceof Exception x ? x : e;
            }
        }

        /** What the shell would print for a result (Gogo's INSPECT level, as for a command's result). */
        CharSequence format(Object result) throws Exception {
            return (CharSequence) sessionType.getMethod("format", Object.class, int.class).invoke(session, result, 0);
        }

        Exception fails(String line) {
            try {
                Object r = execute(line);
                throw new AssertionError(line + " should fail, returned " + r);
            } catch (Exception e) {
                return e;
            }
        }
    }
}
