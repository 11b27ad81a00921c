-- POST 1 KiB mix: a checkout order (exactly 1024 bytes of JSON).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
require("post_json").setup("/api/orders", "order-1k.json")
