/**
 * The formulas shipped with gt: found after the rig's, the town's and the
 * user's own (which shadow them by name).
 */
export const BUILTIN_FORMULAS: Record<string, string> = {
  'polecat-work': `formula = "polecat-work"
description = "A polecat's work on one bead: understand, change, test, commit, hand to the refinery."
version = 1

[vars.bead]
description = "The bead being worked"
required = true

[[steps]]
id = "understand"
title = "Understand {{bead}}"
description = "Read the bead (bd show {{bead}}) and the code it touches. Note open questions in the bead."

[[steps]]
id = "change"
title = "Make the change for {{bead}}"
needs = ["understand"]
description = "Edit the code in your worktree. Keep the change to what the bead asks."

[[steps]]
id = "test"
title = "Test the change"
needs = ["change"]
description = "Run the rig's tests. Fix failures before going on."

[[steps]]
id = "done"
title = "Commit and run gt done"
needs = ["test"]
description = "Commit with a message that names {{bead}}, then run gt done."
`,
  'code-review': `formula = "code-review"
description = "Review a branch or pull request and report findings as beads."
version = 1

[vars.target]
description = "The branch or PR to review"
required = true

[vars.focus]
description = "What to look at hardest"
default = "correctness"
enum = ["correctness", "security", "performance", "style"]

[[steps]]
id = "read"
title = "Read the diff of {{target}}"
description = "git diff against the default branch; list the files and what changed."

[[steps]]
id = "review"
title = "Review {{target}} for {{focus}}"
needs = ["read"]
description = "Look for bugs, missing tests and risky changes, {{focus}} first."

[[steps]]
id = "report"
title = "Report findings on {{target}}"
needs = ["review"]
description = "File a bead per finding (bd create) and mail a summary to whoever asked."
`,
  release: `formula = "release"
description = "Release: bump, changelog, test, tag, and a person's go-ahead before publishing."
version = 1

[vars.version]
description = "Release version, e.g. 1.2.0"
required = true
pattern = "^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$"

[[steps]]
id = "bump"
title = "Bump the version to {{version}}"
description = "Update version strings and manifests."

[[steps]]
id = "changelog"
title = "Write the changelog for {{version}}"
needs = ["bump"]

[[steps]]
id = "test"
title = "Run the full test suite"
needs = ["changelog"]

[[steps]]
id = "tag"
title = "Tag v{{version}}"
needs = ["test"]

[[steps]]
id = "publish"
title = "Publish {{version}}"
needs = ["tag"]
description = "Publish packages and the release notes."

[steps.gate]
type = "human"
timeout = "24h"
`,
  'tdd-cycle': `formula = "tdd-cycle"
description = "Red, green, refactor for one behaviour."
version = 1

[vars.behaviour]
description = "The behaviour to add"
required = true

[[steps]]
id = "red"
title = "Write a failing test: {{behaviour}}"
description = "The test must fail for the right reason. Commit it."

[[steps]]
id = "green"
title = "Make it pass: {{behaviour}}"
needs = ["red"]
description = "The smallest change that passes, whole suite green."

[[steps]]
id = "refactor"
title = "Refactor with the tests green"
needs = ["green"]
`,
  'shell-demo': `formula = "shell-demo"
description = "Deterministic work for gt's shell runtime (no LLM): write a file and commit it. gt demo's beads are of this shape."
version = 1

[vars.file]
description = "The file to write"
default = "hello.txt"

[vars.text]
description = "What to write in it"
default = "hello from gt"

[[steps]]
id = "write"
title = "Write {{file}}"
run = ["printf '%s\\\\n' '{{text}}' > '{{file}}'", "git add '{{file}}'"]

[[steps]]
id = "commit"
title = "Commit {{file}}"
needs = ["write"]
run = ["git commit -qm 'Add {{file}}'"]
`,
  'resolve-conflict': `formula = "resolve-conflict"
description = "Re-apply a branch the refinery could not merge because it conflicts with its target."
version = 1

[vars.bead]
description = "The bead whose work conflicts"
required = true

[vars.branch]
description = "The branch that did not apply"
required = true

[vars.target]
description = "The branch it goes into"
default = "main"

[vars.files]
description = "The files in conflict"
default = "the files git reports"

[[steps]]
id = "apply"
title = "Re-apply {{branch}} onto {{target}}"
description = "Your worktree is a fresh branch from {{target}}. Bring in the work of {{bead}}: git cherry-pick {{target}}..{{branch}}. Resolve the conflicts in {{files}} so both sides' intent survives (bd show {{bead}} says what the change is for)."

[[steps]]
id = "test"
title = "Run the rig's tests"
needs = ["apply"]
description = "The merged result must pass before it goes back to the refinery."

[[steps]]
id = "done"
title = "Commit and run gt done"
needs = ["test"]
description = "Commit the resolution (git cherry-pick --continue), then gt done: the refinery merges it and closes {{bead}}."
`,
};
