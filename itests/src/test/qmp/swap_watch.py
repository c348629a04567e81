#!/usr/bin/python3
"""Watches a running `janus run --qmp` VM over QMP, with QEMU's own client library, while a newer platform bundle is
dropped into deploy/.

usage: swap_watch.py SOCKET VERSION

Connects (waiting for the socket), waits until the VM runs and converts, prints "ready" (the test then drops the
bundle), and checks: the VM pauses (STOP), resumes (RESUME), and __org.janus_SWAPPED says its platform moved to
VERSION; the platform list shows VERSION preferred and serving the VM; the guest converts on with nothing refused;
quit ends it (SHUTDOWN). Prints one line per check and a summary; exits 0 only if every check passed.
"""

import asyncio
import os
import sys
import time

from qemu.qmp import QMPClient

WAIT = 60
VM = "__org.janus_vm"
results = []


def check(what, condition, detail=""):
    results.append(bool(condition))
    print(("ok - " if condition else "not ok - ") + what + ("" if condition else f" ({detail})"), flush=True)
    return condition


async def done(client, vm):
    counts = await client.execute("__org.janus_query-conversions", {"vm": vm})
    return sum(c["done"] for c in counts["conversions"]), sum(c["refused"] for c in counts["conversions"])


async def until(what, predicate):
    deadline = time.monotonic() + WAIT
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def main(socket, version):
    deadline = time.monotonic() + WAIT
    while not os.path.exists(socket):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no socket at {socket}")
        await asyncio.sleep(0.05)
    client = QMPClient("janus-swap-watch")
    await client.connect(socket)
    vms = await client.execute("__org.janus_query-vms")
    if not vms:
        # janus run opens its socket before it creates the VM, so that a client sees the whole life: the VM's first
        # event (RESUME when it starts) says it is there.
        while VM not in (await asyncio.wait_for(client.events.get(), WAIT))["data"]:
            pass
        vms = await client.execute("__org.janus_query-vms")
    if not check("one VM", len(vms) == 1, vms):
        return False
    vm = vms[0]["vm"]
    await until("the VM runs", lambda: _running(client))
    first, _ = await done(client, vm)
    await until("the guest converts", lambda: _beyond(client, vm, first + 50))
    before = [p for p in await client.execute("__org.janus_query-services", {"kind": "platform"}) if p["vms"] == [vm]]
    check("the VM starts on the distribution's platform bundle", len(before) == 1
          and before[0]["bundle"] == "org.janus.platform.swprotected" and before[0]["version"] != version, before)
    # What happened before the drop (the VM's start) is not part of the swap.
    client.events.clear()
    print("ready", flush=True)

    seen = []
    while not {"STOP", "RESUME", "__org.janus_SWAPPED"} <= {e["event"] for e in seen}:
        event = await asyncio.wait_for(client.events.get(), WAIT)
        seen.append(event)
    names = [e["event"] for e in seen]
    check("STOP, then RESUME", names.index("STOP") < names.index("RESUME"), names)
    swapped = next(e for e in seen if e["event"] == "__org.janus_SWAPPED")["data"]
    check("__org.janus_SWAPPED: the platform moved to the new version", swapped["vm"] == vm
          and swapped["kind"] == "platform" and swapped["to"]["version"] == version
          and swapped["from"]["version"] == before[0]["version"], swapped)
    status = await client.execute("query-status")
    check("running again", status["running"] is True and status["status"] == "running", status)
    platforms = await client.execute("__org.janus_query-services", {"kind": "platform"})
    new = [p for p in platforms if p["id"] == "sw-protected" and p["version"] == version]
    check("the new version is preferred and serves the VM", len(new) == 1 and new[0]["preferred"] is True
          and new[0]["vms"] == [vm], platforms)
    at, _ = await done(client, vm)
    await until("the guest converts after the swap", lambda: _beyond(client, vm, at + 100))
    total, refused = await done(client, vm)
    check("conversions went on, none refused", total > at and refused == 0, (at, total, refused))

    await client.execute("quit")
    while True:
        event = await asyncio.wait_for(client.events.get(), WAIT)
        if event["event"] == "SHUTDOWN":
            break
    check("quit: SHUTDOWN", event["data"]["reason"] == "host-qmp-quit" and event["data"]["guest"] is False, event)
    await client.disconnect()
    print(f"swap-watch: {sum(results)} of {len(results)} checks ok", flush=True)
    return all(results)


async def _running(client):
    return (await client.execute("query-status"))["status"] == "running"


async def _beyond(client, vm, n):
    return (await done(client, vm))[0] > n


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if asyncio.run(main(sys.argv[1], sys.argv[2])) else 1)
