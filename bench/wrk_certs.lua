-- wrk_certs.lua - every request carries a user certificate in X-Bench-Cert
-- (the bench nginx passes it to mailsso-kcd as nginx's TLS layer would pass
-- $ssl_client_escaped_cert: wrk cannot present TLS client certificates).
-- BENCH_CERTS: file, one URL-escaped PEM per line; BENCH_THREADS: wrk -t.
-- Thread k sends certificates k, k+T, k+2T, ... and wraps around, so one pass
-- over the file asks for every user once. BENCH_OFFSET (default 0): start at
-- that line (to continue where an earlier run stopped).
local threads_seen = 0

function setup(thread)
    thread:set("id", threads_seen)
    threads_seen = threads_seen + 1
end

local certs, n, counter, step = {}, 0, 0, 1

function init(args)
    for line in io.lines(os.getenv("BENCH_CERTS")) do
        n = n + 1
        certs[n] = line
    end
    step = tonumber(os.getenv("BENCH_THREADS") or "1")
    counter = (id or 0) + tonumber(os.getenv("BENCH_OFFSET") or "0")
end

function request()
    local c = certs[(counter % n) + 1]
    counter = counter + step
    return wrk.format("GET", nil, { ["Host"] = "mail.example.test", ["X-Bench-Cert"] = c })
end
