"""Python authres over a corpus. usage: authres_py.py accept|time FILE
accept: prints 1 or 0 per line (parsed or rejected); time: prints headers per second."""
import sys
import time

import authres

mode, path = sys.argv[1:3]
lines = open(path, encoding="utf-8").read().splitlines()
if mode == "accept":
    for line in lines:
        try:
            authres.AuthenticationResultsHeader.parse("Authentication-Results: " + line)
            print(1)
        except Exception:
            print(0)
else:
    headers = ["Authentication-Results: " + line for line in lines]
    start = time.perf_counter()
    for header in headers:
        authres.AuthenticationResultsHeader.parse(header)
    elapsed = time.perf_counter() - start
    print(f"{len(headers) / elapsed:.0f}")
