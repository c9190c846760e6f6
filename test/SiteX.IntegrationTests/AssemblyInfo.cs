// The tests start real processes, some of them timed: running them one at a time keeps a 2-core CI machine from
// thrashing and the start-time number meaningful.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
