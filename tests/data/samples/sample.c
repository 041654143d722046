/* A fixed-size ring buffer. */
#include <stdlib.h>
#include <string.h>

#define RING_CAPACITY 64

/* A ring of bytes. */
struct ring {
    unsigned char data[RING_CAPACITY];
    size_t head;
    size_t len;
};

typedef struct ring ring_t;

enum ring_status { RING_OK, RING_FULL, RING_EMPTY };

int ring_push(ring_t *ring, unsigned char byte);

/* Make an empty ring on the heap. */
ring_t *ring_new(void)
{
    ring_t *ring = malloc(sizeof(ring_t));
    memset(ring, 0, sizeof(ring_t));
    return ring;
}

// Append one byte; fails when full.
int ring_push(ring_t *ring, unsigned char byte)
{
    if (ring->len == RING_CAPACITY) {
        return RING_FULL;
    }
    ring->data[(ring->head + ring->len) % RING_CAPACITY] = byte;
    ring->len++;
    return RING_OK;
}

/* Copy a string into the ring. */
static int ring_write(ring_t *ring, const char *text)
{
    for (size_t i = 0; i < strlen(text); i++) {
        if (ring_push(ring, (unsigned char)text[i]) != RING_OK)
            return RING_FULL;
    }
    return RING_OK;
}
