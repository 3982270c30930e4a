#include "store/loop_pass.h"

#include <event2/event.h>
#include <string.h>

static struct {
    struct event *ev; /* owned: the zero timeout */
    struct {
        void (*flush)(void *);
        void *arg;
    } batcher[LOOP_PASS_MAX];
    int n;
    unsigned wanted; /* one bit per batcher */
} LP;

static void on_pass(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    unsigned wanted = LP.wanted;
    LP.wanted = 0; /* a flush may ask again: that is the next pass */
    for (int i = 0; i < LP.n; i++)
        if (wanted & (1u << i))
            LP.batcher[i].flush(LP.batcher[i].arg);
}

int loop_pass_init(struct event_base *base)
{
    memset(&LP, 0, sizeof(LP));
    LP.ev = evtimer_new(base, on_pass, NULL);
    return LP.ev ? 0 : -1;
}

int loop_pass_add(void (*flush)(void *arg), void *arg)
{
    if (!LP.ev || LP.n == LOOP_PASS_MAX)
        return -1;
    LP.batcher[LP.n].flush = flush, LP.batcher[LP.n].arg = arg;
    return LP.n++;
}

int loop_pass_want(int id)
{
    if (id < 0 || id >= LP.n)
        return -1;
    if (!evtimer_pending(LP.ev, NULL)) {
        struct timeval zero = {0, 0};
        if (evtimer_add(LP.ev, &zero) < 0)
            return -1;
    }
    LP.wanted |= 1u << id;
    return 0;
}

void loop_pass_free(void)
{
    if (LP.ev)
        event_free(LP.ev);
    memset(&LP, 0, sizeof(LP));
}
