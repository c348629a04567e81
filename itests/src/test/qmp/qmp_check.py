#!/usr/bin/python3
"""Drives Janus's QMP socket with QEMU's own client library (Debian's python3-qemu-qmp).

usage: qmp_check.py SOCKET VM

VM must have been created and not started (QMP status prelaunch). Two clients connect; one drives the VM through
cont, stop, cont and quit while both must see the RESUME, STOP and SHUTDOWN events; the CPUs, the memory map, the
conversion counters, the platforms and backends with their bundles, and a swap request are checked on the way.
Prints one line per check ("ok - ..." or "not ok - ...") and a summary; exits 0 only if every check passed.
"""

import asyncio
import sys

from qemu.qmp import ExecuteError, QMPClient

WAIT = 30
VM = "__org.janus_vm"
results = []


def check(what, condition, detail=""):
    results.append(bool(condition))
    print(("ok - " if condition else "not ok - ") + what + ("" if condition else f" ({detail})"), flush=True)
    return condition


async def next_event(client, name):
    """The next event called name that this client receives (others are skipped)."""
    while True:
        event = await asyncio.wait_for(client.events.get(), WAIT)
        if event["event"] == name:
            return event


async def main(socket, vm):
    driver = QMPClient("janus-driver")
    watcher = QMPClient("janus-watcher")
    await driver.connect(socket)
    await watcher.connect(socket)

    version = driver.greeting.QMP.version
    check("greeting names janus as the package", str(version.get("package", "")).startswith("janus "), version)
    check("greeting has QEMU's version triple", set(version["qemu"]) == {"major", "minor", "micro"}, version)
    check("no capabilities offered", list(driver.greeting.QMP.capabilities) == [], driver.greeting)

    names = [c["name"] for c in await driver.execute("query-commands")]
    check("query-commands lists QEMU's and Janus's commands",
          {"query-status", "stop", "cont", "quit", "query-cpus-fast", "__org.janus_query-memory-map",
           "__org.janus_swap"} <= set(names), names)

    status = await driver.execute("query-status")
    check("a created VM is prelaunch", status["status"] == "prelaunch" and status["running"] is False
          and status[VM] == vm, status)

    await driver.execute("cont")
    for client in (driver, watcher):
        resume = await next_event(client, "RESUME")
        check(f"RESUME reaches {client.name}", resume["data"][VM] == vm
              and set(resume["timestamp"]) == {"seconds", "microseconds"}, resume)
    status = await driver.execute("query-status")
    check("cont starts it: running", status["status"] == "running" and status["running"] is True, status)

    await driver.execute("stop")
    for client in (driver, watcher):
        stop = await next_event(client, "STOP")
        check(f"STOP reaches {client.name}", stop["data"][VM] == vm, stop)
    status = await driver.execute("query-status")
    check("stop pauses it", status["status"] == "paused" and status["running"] is False, status)

    await driver.execute("cont")
    await next_event(driver, "RESUME")
    check("cont resumes it", (await driver.execute("query-status"))["status"] == "running")

    cpus = await driver.execute("query-cpus-fast")
    check("query-cpus-fast: one entry per vCPU in QEMU's shape",
          [c["cpu-index"] for c in cpus] == [0, 1]
          and all(isinstance(c["thread-id"], int) and c["thread-id"] > 0 for c in cpus)
          and all(c["target"] == "x86_64" and c["qom-path"].startswith("/machine/") for c in cpus), cpus)

    size = await driver.execute("query-memory-size-summary")
    check("query-memory-size-summary: base-memory is the RAM", size["base-memory"] == 80 << 20
          and size["plugged-memory"] == 0, size)

    first = await driver.execute("__org.janus_query-conversions", {"vm": vm})
    await asyncio.sleep(0.5)
    later = await driver.execute("__org.janus_query-conversions", {"vm": vm})
    check("conversion counters grow while it runs", 0 < first["done"] < later["done"]
          and any(c["source"] == "map-gpa-range" for c in later["conversions"]), (first, later))

    memory = await driver.execute("__org.janus_query-memory-map", {"vm": vm, "max-runs": 64})
    regions = memory["regions"]
    check("memory map: each region's private and shared bytes add up",
          [r["name"] for r in regions] == ["low", "high"]
          and all(r["private-bytes"] + r["shared-bytes"] == r["size"] for r in regions)
          and all(r["runs"] and r["runs"][0]["gpa"] == r["gpa"] for r in regions), regions)
    check("memory map: runs are private or shared",
          all(run["state"] in ("private", "shared") for r in regions for run in r["runs"]), regions)

    platforms = await driver.execute("__org.janus_query-services", {"kind": "platform"})
    sw = [p for p in platforms if p["id"] == "sw-protected"]
    check("platforms with their bundle and version", len(sw) == 1
          and sw[0]["bundle"] == "org.janus.platform.swprotected" and sw[0]["version"].startswith("0.1.0")
          and sw[0]["preferred"] is True and sw[0]["vms"] == [vm], platforms)
    backends = await driver.execute("__org.janus_query-services", {"kind": "backend"})
    check("backends with their bundle", {(b["id"], b["bundle"]) for b in backends}
          >= {("guest-memfd", "org.janus.memory.gmem"), ("legacy", "org.janus.memory.legacy")}, backends)

    swap = await driver.execute("__org.janus_swap", {"vm": vm, "kind": "platform"})
    check("a swap to the platform it has changes nothing", swap["swapped"] is False
          and swap["from"]["id"] == swap["to"]["id"] == "sw-protected", swap)

    try:
        await driver.execute("system_powerdown")
        check("an unknown command is CommandNotFound", False, "it succeeded")
    except ExecuteError as e:
        check("an unknown command is CommandNotFound", e.error_class == "CommandNotFound", e)
    try:
        await driver.execute("stop", {"vm": vm})
        check("QEMU's commands name the VM with __org.janus_vm", False, "plain vm was accepted")
    except ExecuteError as e:
        check("QEMU's commands name the VM with __org.janus_vm", e.error_class == "GenericError" and VM in str(e), e)

    await driver.execute("quit")
    for client in (driver, watcher):
        shutdown = await next_event(client, "SHUTDOWN")
        check(f"SHUTDOWN reaches {client.name}: host-qmp-quit", shutdown["data"]["guest"] is False
              and shutdown["data"]["reason"] == "host-qmp-quit" and shutdown["data"][VM] == vm, shutdown)
    status = await watcher.execute("query-status", {VM: vm})
    check("after quit the VM is shut down", status["status"] == "shutdown" and status["running"] is False, status)

    await driver.disconnect()
    await watcher.disconnect()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except Exception as e:  # a broken connection or a timeout ends the run as a failed check
        check("the session ran to its end", False, repr(e))
    failed = results.count(False)
    print(f"qmp-check: {len(results) - failed} of {len(results)} checks ok")
    sys.exit(0 if failed == 0 and results else 1)
