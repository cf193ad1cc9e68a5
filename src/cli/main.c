/* main.c - berth's command table and entry point. */
#include <stdio.h>
#include <string.h>
#include "berth/banned.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
