#!/usr/bin/env python3
"""Store node memory around PIN sign-ins (BENCHMARKS.md, "Store node memory"): RSS of a fresh demo
node, after 40 parallel wrong PINs (8 per demo staff id), and after 50 correct sign-ins (10 at a time).
Usage: scripts/signin-memory.py path/to/store-node"""
import json, subprocess, sys, tempfile, time, urllib.request, concurrent.futures as cf
bin = sys.argv[1]
d = tempfile.mkdtemp()
p = subprocess.Popen([bin, "--demo", "--bind", "127.0.0.1:0", "--mqtt-bind", "127.0.0.1:0", "--data-dir", d],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
base = None
while base is None:
    line = p.stdout.readline()
    if line.startswith("store-node listening on "):
        base = line.split("on ", 1)[1].strip()
def rss():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) // 1024
def login(staff, pin):
    req = urllib.request.Request(base + "/api/v1/auth/login", data=json.dumps({"staff_id": staff, "pin": pin}).encode(),
                                 headers={"content-type": "application/json"})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
time.sleep(3)
print("fresh demo node", rss(), "MB")
ids = ["owner", "manager", "cashier", "kitchen", "kiosk"]
with cf.ThreadPoolExecutor(40) as ex:
    codes = list(ex.map(lambda i: login(ids[i % 5], "98%02d" % i), range(40)))
print("40 parallel wrong PINs:", {c: codes.count(c) for c in set(codes)}, "->", rss(), "MB")
time.sleep(5)
print("  5 s later", rss(), "MB")
pins = {"owner": "1000", "manager": "2000", "cashier": "3000", "kitchen": "4000", "kiosk": "5000"}
time.sleep(61)  # the lockout ends
with cf.ThreadPoolExecutor(10) as ex:
    codes = list(ex.map(lambda i: login(ids[i % 5], pins[ids[i % 5]]), range(50)))
print("50 correct sign-ins:", {c: codes.count(c) for c in set(codes)}, "->", rss(), "MB")
time.sleep(10)
print("  10 s later", rss(), "MB")
p.kill()
