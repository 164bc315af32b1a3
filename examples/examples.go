// Package examples embeds the example tree shipped with universe-operator:
// small Universe packages (examples/universe/repo/packages) that the README's
// first command renders and that the `dev` command seeds its local Git
// repository from.
//
// The example packages:
//   - hello-web (revisions 0 and 1): a web app with a health check and the
//     DCOS_SERVICE_NAME/SCHEME/PORT_INDEX labels, so the DC/OS UI links it;
//     1.1.0 upgrades from (and downgrades to) 1.0.0;
//   - pingpong-framework: a framework package built like a DC/OS SDK service
//     (framework: true, DCOS_PACKAGE_FRAMEWORK_NAME, DCOS_COMMONS_UNINSTALL,
//     DCOS_COMMONS_API_VERSION);
//   - greeter (revisions 0, 1, 2): upgrade paths: 1.0.0 <-> 1.1.0, 1.1.0 ->
//     2.0.0, and 2.0.0 cannot be downgraded.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed universe
var tree embed.FS

// FS returns the example tree; its root holds "universe/repo/packages/...".
func FS() fs.FS { return tree }

// Packages returns the example Universe packages directory
// (universe/repo/packages) as an fs.FS, ready for universe.LoadFS.
func Packages() fs.FS { return packages }

// fs.Sub fails only on an invalid path, and this one is a valid constant.
var packages, _ = fs.Sub(tree, "universe/repo/packages")
