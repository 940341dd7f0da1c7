-- A streamed chat request: `bench mock-upstream` answers 50 deltas at once, then the usage chunk and [DONE].
wrk.method="POST"
wrk.headers["Content-Type"]="application/json"
wrk.body='{"model":"bench-w50-p0","messages":[{"role":"user","content":"Write a haiku about proxies."}],"stream":true}'
