-- The benchmark request of reference/proxy-ceiling.md §2: POST, a 33-byte JSON body,
-- Content-Type, and the Host the proxies route on (ZS_BENCH_HOST, default
-- m.default.example.com). The path comes from the URL given to wrk.
wrk.method = "POST"
wrk.body = '{"instances": [[1.0, 2.0, 30.0]]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Host"] = os.getenv("ZS_BENCH_HOST") or "m.default.example.com"
