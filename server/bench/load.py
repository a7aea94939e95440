#!/usr/bin/env python3
"""Creates and fills the tables server/bench/*.lua read, over the protocol.

bench:  pk (S), ITEMS items of ~1 KB (k0..k{ITEMS-1}), on demand, Sync durability.
benchq: pk (S) + sk (N), 10 partition keys p0..p9 with 100 items of ~100 bytes each.
"""
import json
import os
import sys
import urllib.request

ADDR = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000"
ITEMS = int(os.environ.get("ITEMS", "10000"))
AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"


def call(op, body):
    req = urllib.request.Request(
        f"http://{ADDR}/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{op}",
            "Authorization": AUTH,
        },
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def batch(table, items):
    for i in range(0, len(items), 25):
        reqs = [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]
        left = {table: reqs}
        while left:
            left = call("BatchWriteItem", {"RequestItems": left})["UnprocessedItems"]


call("CreateTable", {
    "TableName": "bench",
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
})
call("CreateTable", {
    "TableName": "benchq",
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
})
pad = "x" * 1000
batch("bench", [{"pk": {"S": f"k{i}"}, "data": {"S": pad}} for i in range(ITEMS)])
small = "y" * 80
batch("benchq", [
    {"pk": {"S": f"p{p}"}, "sk": {"N": str(s)}, "data": {"S": small}}
    for p in range(10) for s in range(100)
])
print("loaded", ITEMS, "items into bench and 1000 into benchq")
