-- wrk script: PutItem of 1 KB items with random keys.
local n = tonumber(os.getenv("ITEMS") or "10000")
local pad = string.rep("x", 1000)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.PutItem"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
request = function()
  local body = string.format('{"TableName":"bench","Item":{"pk":{"S":"k%d"},"data":{"S":"%s"}}}', math.random(0, n - 1), pad)
  return wrk.format(nil, nil, nil, body)
end
