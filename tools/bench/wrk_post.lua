-- wrk script for tools/bench/gateway_wrk.sh: every request is a POST with the
-- JSON body in the environment variable WRK_BODY; the credential headers come
-- from wrk's -H flags.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
