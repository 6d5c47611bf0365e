// compose.yaml's MongoDB healthcheck (mongosh --file): initiates the one-member replica set
// "rs0" if it is not initiated yet (idempotent: an initiated set is left alone), and reports
// healthy (exit 0) only once this member is a writable primary, so the gateways, which wait
// for service_healthy, start on a replica set that takes writes and offers change streams.
// The root password comes from the container's environment, never from argv (a process
// listing would show it).
const admin = db.getSiblingDB("admin");
admin.auth(process.env.MONGO_INITDB_ROOT_USERNAME, process.env.MONGO_INITDB_ROOT_PASSWORD);
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongodb:27017" }] });
}
if (!admin.hello().isWritablePrimary) quit(1);
