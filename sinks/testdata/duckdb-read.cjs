// Reads a Parquet file with DuckDB (an independent implementation) and prints
// its schema and rows as JSON. Used by TestParquetReadByDuckDB.
const { DuckDBInstance } = require(process.env.DUCKDB_NODE_DIR + '/node_modules/@duckdb/node-api');
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const d = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${process.argv[2]}', hive_partitioning = false)`);
  const r = await con.runAndReadAll(`SELECT uuid, epoch_ms(time)::BIGINT AS ms, category, "user", tenant, account, application, message, instance_id, format_version, org_id, space_id, app_or_service_id, als_service_id, source FROM read_parquet('${process.argv[2]}', hive_partitioning = false) ORDER BY uuid`);
  console.log(JSON.stringify({schema: d.getRowObjectsJson(), rows: r.getRowObjectsJson()}));
})().catch(e => { console.error(e); process.exit(1); });
