/* pcvm entry point: options -> config -> machine -> main loop -> exit status. */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pcvm: not yet runnable\n");
    return 1;
}
