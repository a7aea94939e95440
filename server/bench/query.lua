-- wrk script: Query returning all 100 items of one of 10 partition keys (items of
-- about 100 bytes; see run.sh).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.Query"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
request = function()
  local body = string.format('{"TableName":"benchq","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p%d"}}}', math.random(0, 9))
  return wrk.format(nil, nil, nil, body)
end
