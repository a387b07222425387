-- How long a product's telemetry is kept, in days; NULL leaves it to the platform's
-- configuration.
ALTER TABLE products ADD COLUMN retention_days INTEGER;
