/* A real redis-server for the unit tests that need one: started on a free
 * loopback port (whose cluster bus port, +10000, is free too), connected
 * to with hiredis, stopped at the end. */
#ifndef HOOKD_TEST_REDIS_CHILD_H
#define HOOKD_TEST_REDIS_CHILD_H

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct redis_child {
    pid_t pid;
    int port;
    char dir[64];
    redisContext *rc;
};

static int redis_child_port_free(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int redis_child_free_port(void)
{
    for (int tries = 0; tries < 100; tries++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t n = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &n) < 0)
            return -1;
        close(fd);
        int port = ntohs(a.sin_port);
        if (port + 10000 <= 65535 && redis_child_port_free(port + 10000))
            return port;
    }
    return -1;
}

/* 0 with r->rc connected, or -1. cluster: started with cluster-enabled. */
static int redis_child_start(struct redis_child *r, int cluster)
{
    r->rc = NULL;
    r->port = redis_child_free_port();
    snprintf(r->dir, sizeof(r->dir), "/tmp/hookd-unit-XXXXXX");
    if (r->port < 0 || !mkdtemp(r->dir))
        return -1;
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    fflush(stdout); /* the child must not write our buffered output again */
    r->pid = fork();
    if (r->pid == 0) {
        /* a test that crashes takes its Redis with it: a Redis left behind
         * holds ctest's output pipe open and the run hangs */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", r->dir, "--save", "",
               "--appendonly", "no", "--cluster-enabled", cluster ? "yes" : "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; r->pid > 0 && i < 100; i++) { /* up to 10 s for it to listen */
        r->rc = redisConnect("127.0.0.1", r->port);
        if (r->rc && !r->rc->err)
            return 0;
        redisFree(r->rc);
        r->rc = NULL;
        usleep(100 * 1000);
    }
    return -1;
}

static void redis_child_stop(struct redis_child *r)
{
    redisFree(r->rc);
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", r->dir);
}

#endif
