-- POST /analyze with a rotating set of realistic texts, so VADER does real work.
local texts = {
  "I love this product, it works great!",
  "The delivery was late and the box was damaged :(",
  "The meeting is at 3pm in room 204.",
  "Not bad at all, but the battery could last longer.",
  "WORST. SUPPORT. EVER!!!",
  "Honestly, kind of a mixed bag: great screen, terrible speakers.",
  "C'est vraiment magnifique 😍",
  "The service was okay, nothing special.",
}
local bodies = {}
for i, text in ipairs(texts) do
  bodies[i] = '{"text":"' .. text .. '"}'
end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format(nil, "/analyze", nil, bodies[(counter % #bodies) + 1])
end
done = function(summary, latency, requests)
  local statuses = summary.errors.status
  io.write(string.format("non-2xx: %d, p99: %.2f ms\n", statuses, latency:percentile(99) / 1000))
end
