-- wrk script: GetItem of a random one of N preloaded 1 KB items (see run.sh).
local n = tonumber(os.getenv("ITEMS") or "10000")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
request = function()
  local body = string.format('{"TableName":"bench","Key":{"pk":{"S":"k%d"}}}', math.random(0, n - 1))
  return wrk.format(nil, nil, nil, body)
end
