import { ProjectLlmError } from "../../common/index.js";
import { UsersStore, dataDirectory, isRole, roles } from "../../server/auth/index.js";
import { parse, type Options } from "../args.js";
import { table } from "../format.js";

export const usersHelp = `Usage: project-llm users <command>

The users of a studio with access control (on when it listens on an address other than loopback), kept in
the data folder (env PROJECT_LLM_DATA_DIR, default ./data; only a hash of each token is stored). Changes
count at the studio's next request; no restart is needed.

  add NAME --role ROLE [--json]   a new user; prints their token once (it cannot be shown again).
                                  Roles: viewer (read sessions, follow runs), runner (also start,
                                  cancel and rerun their own runs), editor (also save and delete
                                  pipelines, manage models), admin (also manage users, cancel and
                                  delete anyone's runs)
  list [--json]                   every user with their role
  revoke NAME                     removes a user: their token and logins stop working at once`;

const userCommands = ["add", "list", "revoke"] as const;

export const usersOptions = {
  role: { type: "string" },
} as const satisfies Options;

export async function usersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, usersOptions);
  const [sub, name, ...extra] = positionals;
  if (!sub || sub === "help" || values.help) return void console.log(usersHelp), 0;
  if (!(userCommands as readonly string[]).includes(sub)) throw new ProjectLlmError("usage", `unknown users command "${sub}" (${userCommands.join(", ")})`);
  const unexpected = sub === "list" ? positionals.slice(1) : extra;
  if (unexpected.length > 0) throw new ProjectLlmError("usage", `users ${sub}: unexpected "${unexpected.join(" ")}" (see "project-llm users --help")`);
  const store = new UsersStore(dataDirectory(process.env, process.cwd()));
  const needName = () => {
    if (!name) throw new ProjectLlmError("usage", `users ${sub} needs a user name (see "project-llm users list")`);
    return name;
  };
  switch (sub) {
    case "add": {
      const role = values.role;
      if (!isRole(role)) throw new ProjectLlmError("usage", `users add needs --role ROLE, one of ${roles.join(", ")}${role === undefined ? "" : ` (not "${role}")`}`);
      const { user, token } = await store.add(needName(), role);
      if (values.json) return void console.log(JSON.stringify({ ...user, token }, null, 2)), 0;
      console.log(`added ${user.name} (${user.role}). Their token, shown this once:\n\n  ${token}\n\nThey log in at http://HOST:PORT/login?token=${token}, or send "Authorization: Bearer ${token}".`);
      return 0;
    }
    case "list": {
      const users = await store.list();
      if (values.json) return void console.log(JSON.stringify(users, null, 2)), 0;
      if (users.length === 0) return void console.log(`no users in ${store.file}: add one with project-llm users add NAME --role ROLE`), 0;
      console.log(table(["name", "role", "added"], users.map((user) => [user.name, user.role, user.createdAt.slice(0, 19).replace("T", " ")])));
      return 0;
    }
    default: {
      const user = await store.revoke(needName());
      if (values.json) return void console.log(JSON.stringify(user, null, 2)), 0;
      console.log(`revoked ${user.name} (${user.role}): their token and logins no longer work`);
      return 0;
    }
  }
}
