// SPDX-License-Identifier: GPL-2.0
/*
 * crashtest: crash the kernel on request, in the contexts a real crash
 * happens in, for crashcaptured's end-to-end crash-type matrix
 * (tests/e2e/run-crash-types.sh). Debian's kernels have no LKDTM
 * (CONFIG_LKDTM is off), so this is the few parts of it the matrix needs.
 *
 *   echo TYPE > /sys/kernel/debug/crashtest/trigger
 *
 * TYPE is one of:
 *   bug       BUG() in process context (panics with kernel.panic_on_oops=1)
 *   null      a write through a NULL pointer (kernel.panic_on_oops=1)
 *   warn      WARN() (kernel.panic_on_warn=1)
 *   timer     a NULL write in a timer_list callback: softirq context
 *   hrtimer   a NULL write in an hrtimer callback: hard interrupt context
 *   softlockup  spin with preemption off (kernel.softlockup_panic=1)
 *   hungtask  sleep in TASK_UNINTERRUPTIBLE forever (kernel.hung_task_panic=1)
 *   stack     unbounded recursion with a large frame into the stack's guard
 *             page (CONFIG_VMAP_STACK)
 * The sysctls are the guest's business (tests/e2e/guest-init.sh sets them).
 * The module is test-only: it is never shipped.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/uaccess.h>

static struct dentry *crashtest_dir;
static struct timer_list crashtest_timer;
static struct hrtimer crashtest_hrtimer;

/*
 * Through a volatile pointer, so that the compiler neither proves the write
 * undefined and drops it nor turns it into a trap instruction: the CPU must
 * take a real page fault at address 0.
 */
static int *volatile crashtest_null;

static noinline void crashtest_write_null(void)
{
	*crashtest_null = 1;
}

static void crashtest_timer_fn(struct timer_list *unused)
{
	crashtest_write_null();
}

static enum hrtimer_restart crashtest_hrtimer_fn(struct hrtimer *unused)
{
	crashtest_write_null();
	return HRTIMER_NORESTART;
}

/*
 * Each frame holds 1 KiB that is used after the recursive call, so the call
 * can be neither a tail call nor folded away; 16 KiB of stack (THREAD_SIZE
 * on x86_64) is gone after a dozen frames and the next push faults on the
 * guard page below the vmalloc'ed stack (arch/x86/kernel/traps.c,
 * handle_stack_overflow()).
 */
static volatile int crashtest_depth_limit = 1 << 30;

static noinline int crashtest_recurse(int depth)
{
	volatile char frame[1024];

	frame[0] = (char)depth;
	if (depth >= crashtest_depth_limit)
		return frame[0];
	return crashtest_recurse(depth + 1) + frame[depth % sizeof(frame)];
}

static void crashtest_soft_lockup(void)
{
	int second;

	/*
	 * kernel/watchdog.c: the watchdog's per-CPU stopper work cannot run
	 * while this CPU never schedules, and after 2 * watchdog_thresh
	 * seconds watchdog_timer_fn() reports "BUG: soft lockup" (and panics
	 * with softlockup_panic=1). A minute is far more than the guest's
	 * threshold; the stall ends on its own if the watchdog is off.
	 */
	preempt_disable();
	for (second = 0; second < 60; second++)
		mdelay(1000);
	preempt_enable();
}

static void crashtest_hung_task(void)
{
	/*
	 * kernel/hung_task.c: khungtaskd reports a task that stayed in
	 * TASK_UNINTERRUPTIBLE (not TASK_NOLOAD) without a context switch for
	 * hung_task_timeout_secs. Nothing ever wakes this one.
	 */
	for (;;) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule();
	}
}

static ssize_t crashtest_trigger_write(struct file *file, const char __user *user_buf,
				       size_t count, loff_t *ppos)
{
	char type[32];
	size_t length = min(count, sizeof(type) - 1);

	if (copy_from_user(type, user_buf, length))
		return -EFAULT;
	type[length] = '\0';
	strim(type);
	pr_info("crashtest: triggering '%s'\n", type);

	if (!strcmp(type, "bug")) {
		BUG();
	} else if (!strcmp(type, "null")) {
		crashtest_write_null();
	} else if (!strcmp(type, "warn")) {
		WARN(1, "crashtest: WARN requested\n");
	} else if (!strcmp(type, "timer")) {
		mod_timer(&crashtest_timer, jiffies + 1);
	} else if (!strcmp(type, "hrtimer")) {
		hrtimer_start(&crashtest_hrtimer, ms_to_ktime(1), HRTIMER_MODE_REL);
	} else if (!strcmp(type, "softlockup")) {
		crashtest_soft_lockup();
	} else if (!strcmp(type, "hungtask")) {
		crashtest_hung_task();
	} else if (!strcmp(type, "stack")) {
		crashtest_recurse(0);
	} else {
		pr_err("crashtest: unknown type '%s'\n", type);
		return -EINVAL;
	}
	return count;
}

static const struct file_operations crashtest_trigger_fops = {
	.owner = THIS_MODULE,
	.write = crashtest_trigger_write,
};

static int __init crashtest_init(void)
{
	timer_setup(&crashtest_timer, crashtest_timer_fn, 0);
	hrtimer_init(&crashtest_hrtimer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	crashtest_hrtimer.function = crashtest_hrtimer_fn;
	crashtest_dir = debugfs_create_dir("crashtest", NULL);
	debugfs_create_file("trigger", 0200, crashtest_dir, NULL, &crashtest_trigger_fops);
	return 0;
}

static void __exit crashtest_exit(void)
{
	debugfs_remove_recursive(crashtest_dir);
	del_timer_sync(&crashtest_timer);
	hrtimer_cancel(&crashtest_hrtimer);
}

module_init(crashtest_init);
module_exit(crashtest_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Crash the kernel on request, for crash-capture tests");
