-- POST 16 KiB mix: a supplier's product batch import (exactly 16384 bytes of JSON).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
require("post_json").setup("/api/products/import", "catalog-16k.json")
