-- GET mix: a product search with five query parameters.
wrk.method = "GET"
wrk.path = "/api/products?q=desk&category=office&limit=20&page=2&sort=price"
wrk.headers["Accept"] = "application/json"
wrk.headers["User-Agent"] = "palisade-bench/1 (wrk)"
-- Identity configurations of compare.sh pass a bearer token.
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
