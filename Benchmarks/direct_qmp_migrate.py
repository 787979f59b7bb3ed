#!/usr/bin/env python3
"""The same live migration Tether's driver performs, driven by the shortest QMP script that
does it right (events on, wait for the ending MIGRATION event), for `tether-benchmark migration`
to compare against. Usage: direct_qmp_migrate.py SRC_QMP DST_QMP URI DOWNTIME_MS MAX_BANDWIDTH"""
import json
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    f.readline()  # greeting
    command(f, "qmp_capabilities")
    return f


def command(f, name, arguments=None):
    message = {"execute": name}
    if arguments is not None:
        message["arguments"] = arguments
    f.write(json.dumps(message) + "\r\n")
    f.flush()
    while True:
        reply = json.loads(f.readline())
        if "event" in reply:
            continue
        if "error" in reply:
            sys.exit(f"{name}: {reply['error']}")
        return reply["return"]


def main():
    source_path, target_path, uri = sys.argv[1], sys.argv[2], sys.argv[3]
    downtime, bandwidth = int(sys.argv[4]), int(sys.argv[5])
    target = connect(target_path)
    source = connect(source_path)
    start = time.monotonic()
    command(target, "migrate-incoming", {"uri": uri})
    command(source, "migrate-set-parameters", {"downtime-limit": downtime, "max-bandwidth": bandwidth})
    command(source, "migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    command(source, "migrate", {"uri": uri})
    while True:
        message = json.loads(source.readline())
        if message.get("event") == "MIGRATION" and message["data"]["status"] in ("completed", "failed", "cancelled"):
            break
    info = command(source, "query-migrate")
    # QEMU 7.2 reports "completed" a moment before it fills in total-time and downtime.
    while info["status"] == "completed" and not info.get("total-time"):
        time.sleep(0.001)
        info = command(source, "query-migrate")
    elapsed = (time.monotonic() - start) * 1000
    print(json.dumps({"status": info["status"], "totalTimeMs": info.get("total-time", 0),
                      "downtimeMs": info.get("downtime", 0), "scriptTotalMs": elapsed}))


if __name__ == "__main__":
    main()
