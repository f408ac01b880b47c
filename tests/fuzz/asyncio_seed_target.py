"""The program behind the walker seeds corpus/walker/asyncio-*-seg: a few asyncio tasks (two
in sleep, a gather() of them, two awaiting each other), so that fuzz_walker reaches the task
walk (analyze/python/tasks.c). Made by hand: run it, wait for "ready", then
    pysnap capture --pid PID --no-compress --max-stack 0 -o RAW
and write make_corpus.walker_seeds(open(RAW, "rb").read(), flat=False)["seg"]."""
import asyncio, sys, time
T = {}
async def nap(n):
    await asyncio.sleep(1000 + n)
async def gath(a, b):
    await asyncio.gather(a, b)
async def dl_a():
    await T["b"]
async def dl_b():
    await T["a"]
async def main():
    loop = asyncio.get_running_loop()
    c1, c2 = loop.create_task(nap(1), name="c1"), loop.create_task(nap(2), name="c2")
    loop.create_task(gath(c1, c2), name="g")
    T["a"] = loop.create_task(dl_a(), name="a")
    T["b"] = loop.create_task(dl_b(), name="b")
    await asyncio.sleep(0.1)
    print("ready", flush=True)
    time.sleep(1000)
asyncio.run(main())
