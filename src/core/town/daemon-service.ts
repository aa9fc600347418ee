/**
 * `gt daemon install-service`: the town's daemon as a service of the person's
 * own session manager, so it survives reboots and is restarted when it dies —
 * a systemd user unit on Linux, a launchd agent on macOS. Pure: the edge
 * writes the file this returns.
 */

export type ServicePlatform = 'systemd' | 'launchd';

export interface ServiceSpec {
  platform: ServicePlatform;
  /** The town root. */
  root: string;
  /** The town's name (town.toml `name`). */
  town: string;
  /** argv that runs gt: node and its script. */
  launcher: string[];
  /** The PATH the daemon and the sessions it restarts need (tmux, git, the runtimes). */
  path: string;
  home: string;
}

export interface ServiceFile {
  platform: ServicePlatform;
  /** The service's name (the systemd unit, the launchd label). */
  name: string;
  /** Where the file goes (absolute). */
  file: string;
  content: string;
  /** What the person runs to enable and start it (gt does not change their session manager). */
  enable: string[];
  disable: string[];
}

/** FNV-1a, 32 bits: a short stable tag of the town's path (two towns of one name get two services). */
function pathTag(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0').slice(0, 6);
}

export function serviceName(town: string, root: string): string {
  const slug =
    town
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 30) || 'town';
  return `gt-daemon-${slug}-${pathTag(root)}`;
}

/** systemd's quoting for one word of ExecStart (systemd.syntax(7)): double quotes, with \ and " escaped, and % doubled. */
function systemdWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) && !word.includes('%') ? word : `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function serviceFile(spec: ServiceSpec): ServiceFile {
  const name = serviceName(spec.town, spec.root);
  const argv = [...spec.launcher, 'daemon', 'run'];
  if (spec.platform === 'systemd') {
    const unit = `${name}.service`;
    const content = [
      '# Written by gt daemon install-service: the daemon (deacon) of the gt town at',
      `# ${spec.root}. Secrets the agents' runtimes need (ANTHROPIC_API_KEY…) go in the`,
      '# optional EnvironmentFile below (mode 0600), never in this file.',
      '[Unit]',
      `Description=gt daemon for the town ${spec.town} (${spec.root})`,
      '',
      '[Service]',
      'Type=simple',
      `WorkingDirectory=${systemdWord(spec.root)}`,
      `Environment=${systemdWord(`GT_ROOT=${spec.root}`)}`,
      `Environment=${systemdWord(`PATH=${spec.path}`)}`,
      `Environment=${systemdWord(`HOME=${spec.home}`)}`,
      `EnvironmentFile=-${systemdWord(`${spec.root}/.gt/daemon.env`)}`,
      `ExecStart=${argv.map(systemdWord).join(' ')}`,
      // The daemon exits 0 on SIGTERM (gt down, systemctl stop) and when another daemon already holds the town.
      'Restart=on-failure',
      'RestartSec=5',
      'KillMode=process',
      'TimeoutStopSec=40',
      '',
      '[Install]',
      'WantedBy=default.target',
      '',
    ].join('\n');
    return {
      platform: 'systemd',
      name: unit,
      file: `${spec.home}/.config/systemd/user/${unit}`,
      content,
      enable: ['systemctl --user daemon-reload', `systemctl --user enable --now ${unit}`],
      disable: [`systemctl --user disable --now ${unit}`],
    };
  }
  const label = `dev.gt.${name}`;
  const strings = (values: string[]) => values.map((v) => `    <string>${xml(v)}</string>`).join('\n');
  const content = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by gt daemon install-service: the daemon (deacon) of the gt town at ${xml(spec.root)} -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${xml(label)}</string>
  <key>ProgramArguments</key>
  <array>
${strings(argv)}
  </array>
  <key>WorkingDirectory</key>
  <string>${xml(spec.root)}</string>
  <key>EnvironmentVariables</key>
  <dict>
    <key>GT_ROOT</key>
    <string>${xml(spec.root)}</string>
    <key>PATH</key>
    <string>${xml(spec.path)}</string>
    <key>HOME</key>
    <string>${xml(spec.home)}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>StandardOutPath</key>
  <string>${xml(`${spec.root}/.gt/daemon.log`)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(`${spec.root}/.gt/daemon.log`)}</string>
</dict>
</plist>
`;
  const file = `${spec.home}/Library/LaunchAgents/${label}.plist`;
  return {
    platform: 'launchd',
    name: label,
    file,
    content,
    enable: [`launchctl bootstrap gui/$(id -u) ${file}`],
    disable: [`launchctl bootout gui/$(id -u)/${label}`],
  };
}
