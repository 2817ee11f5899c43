// Forms replica set @@MONGODB_REPLSET@@ and brings its users to the configured
// passwords. deploy/install pipes it to `mongosh --nodb` on a member over SSH
// stdin, so the passwords never touch a disk or a command line. Idempotent, and
// it says what it found at each step:
// 1. initiates the set, unless this member already belongs to it;
// 2. waits for a primary, wherever the election put it;
// 3. authenticates as root through the replica-set URI, which reaches the
//    primary wherever it is, and sets the app and backup users;
// 4. on the first run there is no root user yet: it is created through the
//    localhost exception, which only a connection to the primary over loopback
//    can use, so on any other member this exits 3 printing
//    `PRIMARY_ELSEWHERE host:port`, and deploy/install runs it on that member.
const replSet = '@@MONGODB_REPLSET@@';
const members = [@@RS_MEMBERS@@];
const replSetUri = 'mongodb://@@RS_HOSTS@@/?replicaSet=@@MONGODB_REPLSET@@';
const rootPassword = '@@MONGODB_ROOT_PASSWORD@@';

const isCode = (error, code, name, pattern) =>
  error.code === code || error.codeName === name || pattern.test(String(error.message));
const authFailed = (error) => isCode(error, 18, 'AuthenticationFailed', /authentication failed/i);
const unauthorized = (error) =>
  isCode(error, 13, 'Unauthorized', /requires authentication|not authorized/i);

const local = new Mongo('mongodb://127.0.0.1:27017/?directConnection=true');
const localAdmin = local.getDB('admin');
// hello needs no authentication.
let hello = localAdmin.hello();
if (hello.setName && hello.setName !== replSet) {
  throw new Error(`this mongod belongs to replica set ${hello.setName}, not ${replSet}`);
}
if (hello.setName) {
  print(`replica set ${replSet}: already initiated (this member ${hello.me}, primary ${hello.primary || 'not elected yet'})`);
} else {
  const result = localAdmin.runCommand({ replSetInitiate: { _id: replSet, members } });
  if (result.ok !== 1) throw new Error(`replSetInitiate failed: ${JSON.stringify(result)}`);
  print(`replica set ${replSet}: initiated with ${members.map((m) => m.host).join(', ')}`);
}
for (let waited = 0; waited < 90 && !(hello = localAdmin.hello()).primary; waited++) sleep(1000);
if (!hello.primary) {
  throw new Error('no primary elected after 90 s: is mongod running on every member, and port 27017 open between them?');
}
print(`replica set ${replSet}: primary is ${hello.primary}`);

// root through the replica-set URI, or null when no root user matches the password.
function rootSession() {
  const admin = new Mongo(replSetUri).getDB('admin');
  try {
    const answer = admin.auth('root', rootPassword);
    return answer && answer.ok === 0 ? null : admin;
  } catch (error) {
    if (authFailed(error)) return null;
    throw error;
  }
}

let admin = rootSession();
if (admin !== null) {
  print('root user: exists, authenticated through the replica-set URI');
} else {
  if (hello.primary !== hello.me) {
    print(`root user: none yet; the localhost exception needs the primary`);
    print(`PRIMARY_ELSEWHERE ${hello.primary}`);
    quit(3);
  }
  try {
    localAdmin.createUser({ user: 'root', pwd: rootPassword, roles: ['root'] });
  } catch (error) {
    if (unauthorized(error)) {
      throw new Error(
        'a root user exists but deploy/.secrets/mongodb-root-password does not authenticate it: ' +
          'put back the .secrets folder this deployment was installed with');
    }
    throw error;
  }
  print('root user: created on the primary through the localhost exception');
  admin = rootSession();
  if (admin === null) throw new Error('the root user just created does not authenticate');
}

function setUser(database, user, pwd, roles) {
  if (database.getUser(user) === null) {
    database.createUser({ user, pwd, roles });
    print(`${user} user: created`);
  } else {
    database.updateUser(user, { pwd, roles });
    print(`${user} user: password and roles set`);
  }
}
setUser(admin.getSiblingDB('@@MONGODB_DATABASE@@'), 'app', '@@MONGODB_APP_PASSWORD@@',
  [{ role: 'readWrite', db: '@@MONGODB_DATABASE@@' }]);
setUser(admin, 'backup', '@@MONGODB_BACKUP_PASSWORD@@', [{ role: 'backup', db: 'admin' }]);

const status = admin.runCommand({ replSetGetStatus: 1 });
print(`members: ${status.members.map((m) => `${m.name} ${m.stateStr}`).join(', ')}`);
