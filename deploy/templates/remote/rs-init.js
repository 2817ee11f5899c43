// Run with mongosh on the first member over loopback (deploy/install pipes it
// in on stdin, so the passwords never touch a disk or a command line).
// Idempotent: initiates replica set @@MONGODB_REPLSET@@ once, creates the root
// user through the localhost exception, then the app user with readWrite on
// @@MONGODB_DATABASE@@ only.
const admin = db.getSiblingDB('admin');
let authenticated = false;
try {
  authenticated = admin.auth('root', '@@MONGODB_ROOT_PASSWORD@@').ok === 1;
} catch (e) {
  authenticated = false;
}

let initiated = true;
try {
  rs.status();
} catch (e) {
  if (e.codeName === 'NotYetInitialized') initiated = false;
  else if (e.codeName !== 'Unauthorized') throw e;
}
if (!initiated) {
  rs.initiate({ _id: '@@MONGODB_REPLSET@@', members: [@@RS_MEMBERS@@] });
  print('replica set @@MONGODB_REPLSET@@ initiated');
}
for (let i = 0; i < 60 && !db.hello().isWritablePrimary; i++) sleep(1000);
if (!db.hello().isWritablePrimary) throw new Error('no primary after 60 s');

if (!authenticated) {
  admin.createUser({ user: 'root', pwd: '@@MONGODB_ROOT_PASSWORD@@', roles: ['root'] });
  admin.auth('root', '@@MONGODB_ROOT_PASSWORD@@');
  print('root user created');
}
const app = db.getSiblingDB('@@MONGODB_DATABASE@@');
const appUser = { pwd: '@@MONGODB_APP_PASSWORD@@', roles: [{ role: 'readWrite', db: '@@MONGODB_DATABASE@@' }] };
if (app.getUser('app') === null) {
  app.createUser(Object.assign({ user: 'app' }, appUser));
  print('app user created');
} else {
  app.updateUser('app', appUser);
}
printjson(rs.status().members.map((m) => ({ name: m.name, state: m.stateStr })));
