/* SPDX-License-Identifier: MIT
 *
 * Runs the fuzz target over files (the seed corpus and every saved finding) without libFuzzer,
 * so that `make -C test/fuzz replay` is an ordinary regression test under gcc, valgrind or ASan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *Argc, char ***Argv);
int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);

static int ReplayFile(const char *Path)
{
    FILE *File = fopen(Path, "rb");
    if (!File) {
        perror(Path);
        return 1;
    }
    fseek(File, 0, SEEK_END);
    long Length = ftell(File);
    fseek(File, 0, SEEK_SET);
    uint8_t *Data = malloc(Length > 0 ? (size_t)Length : 1);
    if (!Data || fread(Data, 1, (size_t)Length, File) != (size_t)Length) {
        fprintf(stderr, "%s: read failed\n", Path);
        fclose(File);
        free(Data);
        return 1;
    }
    fclose(File);
    LLVMFuzzerTestOneInput(Data, (size_t)Length);
    free(Data);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned Count = 0;
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat St;
        if (stat(argv[i], &St) == 0 && S_ISDIR(St.st_mode)) {
            DIR *Dir = opendir(argv[i]);
            struct dirent *Entry;
            while (Dir && (Entry = readdir(Dir))) {
                char Path[4096];
                if (Entry->d_name[0] == '.')
                    continue;
                snprintf(Path, sizeof(Path), "%s/%s", argv[i], Entry->d_name);
                if (ReplayFile(Path))
                    return 1;
                Count++;
            }
            if (Dir)
                closedir(Dir);
        } else {
            if (ReplayFile(argv[i]))
                return 1;
            Count++;
        }
    }
    printf("replayed %u inputs: no verifier failure, no leak\n", Count);
    return 0;
}
