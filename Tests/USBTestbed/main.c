/*
 * usb-testbed: a umockdev testbed that tests drive line by line on stdin, so that a recorded
 * device can be plugged in and pulled out while another process (tether probe --watch, run
 * under umockdev-wrapper with this testbed's UMOCKDEV_DIR) watches through libusb hotplug.
 *
 *   add FILE             add every device of a umockdev recording
 *   uevent SYSPATH ACT   send a uevent (add, remove, change) for a device
 *   remove SYSPATH       remove a device (send its remove uevent first)
 *   quit
 *
 * It answers "ready DIR" once, then "ok" or "error: ..." per command, each line flushed.
 */
#include <stdio.h>
#include <string.h>
#include <umockdev.h>

static void answer(const char *line) {
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

int main(void) {
    UMockdevTestbed *testbed = umockdev_testbed_new();
    gchar *root = umockdev_testbed_get_root_dir(testbed);
    printf("ready %s\n", root);
    fflush(stdout);
    g_free(root);

    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *command = strtok(line, " ");
        char *first = strtok(NULL, " ");
        char *second = strtok(NULL, " ");
        if (!command) continue;
        if (strcmp(command, "quit") == 0) break;
        if (strcmp(command, "add") == 0 && first) {
            GError *error = NULL;
            if (umockdev_testbed_add_from_file(testbed, first, &error)) {
                answer("ok");
            } else {
                printf("error: %s\n", error ? error->message : "unknown");
                fflush(stdout);
                g_clear_error(&error);
            }
        } else if (strcmp(command, "uevent") == 0 && first && second) {
            umockdev_testbed_uevent(testbed, first, second);
            answer("ok");
        } else if (strcmp(command, "remove") == 0 && first) {
            umockdev_testbed_remove_device(testbed, first);
            answer("ok");
        } else {
            answer("error: unknown command");
        }
    }
    g_object_unref(testbed);
    return 0;
}
