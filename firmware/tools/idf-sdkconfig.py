#!/usr/bin/env python3
"""Writes the sdkconfig.h an esp32 build of agent-app would get, from ESP-IDF's real Kconfig tree.

    idf-sdkconfig.py IDF_PATH COMPONENT_DIR APP_DIR OUT_H DEFAULTS...

idf.py does this with esp-idf-kconfig; this uses kconfiglib (Debian: python3-kconfiglib), the
library esp-idf-kconfig grew from, over the same files: ESP-IDF's root Kconfig, every component's
Kconfig and Kconfig.projbuild, the hilt_agent component's Kconfig and the app's Kconfig.projbuild,
then the defaults files in order, as SDKCONFIG_DEFAULTS layers them. Prints every kconfiglib
warning except a later file overriding an earlier one (that is what layering is for) and exits 1
when there was one: a misspelt option or a value Kconfig refused would otherwise pass silently.
"""
import glob
import os
import sys
import tempfile

import kconfiglib

# esp-idf-kconfig accepts help text on a menu; kconfiglib 14 only on symbols and choices.
_parse_help = kconfiglib.Kconfig._parse_help


def _help(self, node):
    if not hasattr(node, "help"):
        node.help = None
    return _parse_help(self, node)


kconfiglib.Kconfig._parse_help = _help


def main(argv):
    idf, component, app, out = (os.path.abspath(a) for a in argv[1:5])
    defaults = [os.path.abspath(a) for a in argv[5:]]
    with tempfile.TemporaryDirectory() as tmp:
        # the two lists ESP-IDF's build writes for the root Kconfig to source
        lists = {
            "COMPONENT_KCONFIGS_SOURCE_FILE": sorted(glob.glob(f"{idf}/components/*/Kconfig")) + [f"{component}/Kconfig"],
            "COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE": sorted(glob.glob(f"{idf}/components/*/Kconfig.projbuild"))
            + [f"{app}/main/Kconfig.projbuild"],
        }
        for var, files in lists.items():
            path = os.path.join(tmp, var + ".in")
            with open(path, "w") as f:
                f.writelines(f'source "{p}"\n' for p in files)
            os.environ[var] = path
        os.environ.update(srctree=idf, IDF_PATH=idf, IDF_TARGET="esp32", IDF_TOOLCHAIN="gcc",
                          IDF_INIT_VERSION="5.5.0", IDF_ENV_FPGA="", IDF_MINIMAL_BUILD="n")
        try:
            kconfig = kconfiglib.Kconfig(f"{idf}/Kconfig", warn_to_stderr=False)
            kconfig.warn_assign_undef = True
            for path in defaults:
                kconfig.load_config(path, replace=False)
        except kconfiglib.KconfigError as e:  # a Kconfig file that does not parse
            print(str(e).splitlines()[0], file=sys.stderr)
            return 1
        kconfig.write_autoconf(out)
    problems = [w for w in kconfig.warnings if "set more than once" not in w]
    for w in problems:
        print(w.replace("\n", " "), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
