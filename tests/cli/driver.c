/* Stand-alone option-parser driver for tests/cli/run.sh before main.c is wired:
 *   see tests/cli/run.sh (PCVM=path to use another binary) */
#include "cli/config.h"

int main(int argc, char **argv)
{
    return cli_main_dump(argc, argv);
}
