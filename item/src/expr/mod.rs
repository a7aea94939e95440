//! DynamoDB expression language (being built).
