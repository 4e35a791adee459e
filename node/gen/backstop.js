"use components";
export function instantiate(getCoreModule, imports, instantiateCore = (module, importObject) => new WebAssembly.Instance(module, importObject)) {
  
  let dv = new DataView(new ArrayBuffer());
  const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);
  
  function toUint64(val) {
    const converted = BigInt(val)
    
    return BigInt.asUintN(64, converted);
  }
  
  
  function toInt32(val) {
    
    return val >> 0;
  }
  
  
  function toUint16(val) {
    
    val >>>= 0;
    val %= 2 ** 16;
    return val;
  }
  
  
  function toUint32(val) {
    
    return val >>> 0;
  }
  
  const TEXT_DECODER_UTF8 = new TextDecoder();
  const TEXT_ENCODER_UTF8 = new TextEncoder();
  
  function _utf8AllocateAndEncode(s, realloc, memory) {
    if (typeof s !== 'string') {
      throw new TypeError('expected a string, received [' + typeof s + ']');
    }
    if (s.length === 0) { return { ptr: 1, len: 0 }; }
    // Compute the exact allocation size up front. Some older preview1
    // adapters only support an initial allocation, not a subsequent shrink.
    let len = 0;
    let codepoints = 0;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      codepoints++;
      if (ch < 0x80) { len += 1; }
      else if (ch < 0x800) { len += 2; }
      else if (ch >= 0xd800 && ch <= 0xdbff &&
      i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        len += 4;
        i++;
      } else { len += 3; }
    }
    const ptr = realloc(0, 0, 1, len);
    const { read, written } = TEXT_ENCODER_UTF8.encodeInto(
    s,
    new Uint8Array(memory.buffer, ptr, len),
    );
    if (read !== s.length || written !== len) {
      throw new Error('failed to encode whole string');
    }
    const res = { ptr, len, codepoints };
    return res;
  }
  
  let RESOURCE_SCOPE_ID = 0;
  const RESOURCE_SCOPE_TASKS = new Map();
  const ASYNC_TASKS_BY_COMPONENT_IDX = new Map();
  const ASYNC_CURRENT_TASK_IDS = [];
  const ASYNC_CURRENT_COMPONENT_IDXS = [];
  
  // Patched by scripts/transpile.js: read JCO_DEBUG once, not on every call.
  const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => console.debug(...args) : () => {};
  
  function clearCurrentTask(componentIdx, taskID) {
    _debugLog('[clearCurrentTask()] args', { componentIdx, taskID });
    
    if (componentIdx === undefined || componentIdx === null) {
      throw new Error('missing/invalid component instance index while ending current task');
    }
    
    const tasks = ASYNC_TASKS_BY_COMPONENT_IDX.get(componentIdx);
    if (!tasks || !Array.isArray(tasks)) {
      throw new Error('missing/invalid tasks for component instance while ending task');
    }
    if (tasks.length == 0) {
      throw new Error(`no current tasks for component instance [${componentIdx}] while ending task`);
    }
    
    if (taskID !== undefined) {
      const last = tasks[tasks.length - 1];
      if (last.id !== taskID) {
        // throw new Error('current task does not match expected task ID');
        return;
      }
    }
    
    ASYNC_CURRENT_TASK_IDS.pop();
    ASYNC_CURRENT_COMPONENT_IDXS.pop();
    
    const taskMeta = tasks.pop();
    return taskMeta.task;
  }
  const ASYNC_STATE = new Map();
  
  function promiseWithResolvers() {
    if (Promise.withResolvers) {
      return Promise.withResolvers();
    } else {
      let resolve;
      let reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    }
  }
  
  class Waitable {
    #componentIdx;
    
    #pendingEventFn = null;
    
    #promise;
    #resolve;
    #reject;
    
    #waitableSet = null;
    
    #hasSyncWaiter = false;
    
    #idx = null; // to component-global waitables
    
    target;
    
    constructor(args) {
      const { componentIdx, target } = args;
      this.#componentIdx = componentIdx;
      this.target = args.target;
      this.#resetPromise();
    }
    
    componentIdx() { return this.#componentIdx; }
    isInSet() { return this.#waitableSet !== null; }
    
    idx() { return this.#idx; }
    setIdx(idx) {
      if (idx === 0) { throw new Error("waitable idx cannot be zero"); }
      this.#idx = idx;
    }
    
    setTarget(tgt) { this.target = tgt; }
    
    #resetPromise() {
      const { promise, resolve, reject } = promiseWithResolvers()
      this.#promise = promise;
      this.#resolve = resolve;
      this.#reject = reject;
    }
    
    resolve() { this.#resolve(); }
    reject(err) { this.#reject(err); }
    promise() { return this.#promise; }
    
    hasPendingEvent() {
      // _debugLog('[Waitable#hasPendingEvent()]', {
        //     componentIdx: this.#componentIdx,
        //     waitable: this,
        //     waitableSet: this.#waitableSet,
        //     hasPendingEvent: this.#pendingEventFn !== null,
        // });
        return this.#pendingEventFn !== null;
      }
      
      setPendingEvent(fn) {
        _debugLog('[Waitable#setPendingEvent()] args', {
          waitable: this,
          inSet: this.#waitableSet,
        });
        this.#pendingEventFn = fn;
      }
      
      getPendingEvent() {
        _debugLog('[Waitable#getPendingEvent()] args', {
          waitable: this,
          inSet: this.#waitableSet,
          hasPendingEvent: this.#pendingEventFn !== null,
        });
        if (this.#pendingEventFn === null) { return null; }
        const eventFn = this.#pendingEventFn;
        this.#pendingEventFn = null;
        const e = eventFn();
        this.#resetPromise();
        return e;
      }
      
      join(waitableSet) {
        _debugLog('[Waitable#join()] args', {
          waitable: this,
          waitableSet: waitableSet,
          isRemoval: waitableSet === null,
        });
        
        if (this.#waitableSet === undefined) {
          throw new TypeError('waitable set must be not be undefined');
        }
        
        if (this.#waitableSet) {
          this.#waitableSet.removeWaitable(this);
        }
        
        this.#waitableSet = waitableSet;
        
        if (waitableSet) {
          this.#waitableSet.addWaitable(this);
        }
      }
      
      drop() {
        _debugLog('[Waitable#drop()] args', {
          componentIdx: this.#componentIdx,
          waitable: this,
        });
        if (this.hasPendingEvent()) {
          throw new Error('waitables with pending events cannot be dropped');
        }
        this.join(null);
      }
      
      async waitForPendingEvent(args) {
        const { cstate } = args;
        if (!cstate) { throw new TypeError('missing component state'); }
        
        if (this.#waitableSet !== null || this.#hasSyncWaiter) {
          throw new Error("waitable is already in a set/has a sync waiter");
        }
        this.#hasSyncWaiter = true;
        await cstate.waitUntil({
          cancellable: false,
          readyFn: () => this.hasPendingEvent(),
        });
        this.#hasSyncWaiter = false;
      }
      
    }
    const INSTANCE_FLAGS = new Map();
    const STORE_TRAP = { error: null };
    const STORE_ASYNC_STATE = { deadlockCheck: null, pendingHostOperations: 0 };
    const WebAssemblyRuntimeError = WebAssembly.RuntimeError;
    
    function _checkForDeadlock() {
      if (STORE_ASYNC_STATE.deadlockCheck !== null || STORE_TRAP.error !== null) { return; }
      STORE_ASYNC_STATE.deadlockCheck = setTimeout(() => {
        STORE_ASYNC_STATE.deadlockCheck = null;
        if (STORE_TRAP.error !== null || STORE_ASYNC_STATE.pendingHostOperations > 0) { return; }
        
        const suspendedTasks = new Set();
        for (const state of ASYNC_STATE.values()) {
          if (state.hasPendingSchedulerWork()) {
            state.runTickLoop();
            return;
          }
          for (const meta of state.suspendedTaskMetas()) {
            suspendedTasks.add(meta.task);
          }
        }
        
        const unresolvedRoots = new Set();
        for (const task of suspendedTasks) {
          const root = task.getRootTask();
          if (!root.isResolvedState()) { unresolvedRoots.add(root); }
        }
        if (unresolvedRoots.size === 0) { return; }
        
        const err = new WebAssemblyRuntimeError('wasm trap: deadlock detected: event loop cannot make further progress');
        // Which tasks were waiting, and on whose behalf. The message stays
        // exactly what the Canonical ABI calls for, so this rides alongside
        // it: a deadlock reported from a real program is otherwise a bare
        // sentence, and the state that produced it is gone by the time
        // anyone reads the failure.
        err.deadlockDetail = {
          pendingHostOperations: STORE_ASYNC_STATE.pendingHostOperations,
          suspendedTasks: [...suspendedTasks].map((task) => ({
            taskID: task.id(),
            componentIdx: task.componentIdx(),
            state: task.taskState(),
            rootTaskID: task.getRootTask().id(),
          })),
          unresolvedRootTaskIDs: [...unresolvedRoots].map((root) => root.id()),
        };
        STORE_TRAP.error = err;
        for (const root of unresolvedRoots) {
          root.setErrored(err);
          root.reject(err);
        }
        for (const task of suspendedTasks) {
          if (!task.isResolvedState() && unresolvedRoots.has(task.getRootTask())) {
            task.setErrored(err);
            task.reject(err);
          }
        }
        for (const state of ASYNC_STATE.values()) { state.runTickLoop(); }
      }, 0);
    }
    
    const CORE_TRAP_MESSAGES = new Map([
    ['unreachable', "wasm trap: wasm `unreachable` instruction executed"],
    ['memory access out of bounds', "wasm trap: out of bounds memory access"],
    ['divide by zero', "wasm trap: integer divide by zero"],
    ['remainder by zero', "wasm trap: integer divide by zero"],
    ['divide result unrepresentable', "wasm trap: integer overflow"],
    ['float unrepresentable in integer range', "wasm trap: invalid conversion to integer"],
    ['table index is out of bounds', "wasm trap: undefined element: out of bounds table access"],
    ['function signature mismatch', "wasm trap: indirect call type mismatch"],
    ['call stack exhausted', "wasm trap: call stack exhausted"],
    ]);
    function _normalizeCoreTrap(err) {
      if (!(err instanceof WebAssemblyRuntimeError)) { return err; }
      const message = CORE_TRAP_MESSAGES.get(err.message);
      if (message !== undefined) { err.message = message; }
      return err;
    }
    
    class RepTable {
      // Sentinel marking a freed slot; the freelist link for a freed slot
      // lives in the odd cell. This keeps get()/contains()/remove() on freed
      // reps well-defined (previously they returned/corrupted freelist links).
      static FREE = Symbol('RepTable.free');
      
      #data = [0, null];
      #size = 0;
      #target;
      
      constructor(args) {
        this.target = args?.target;
      }
      
      data() { return this.#data; }
      
      insert(val) {
        _debugLog('[RepTable#insert()] args', { val, target: this.target });
        const freeIdx = this.#data[0];
        if (freeIdx === 0) {
          this.#data.push(val);
          this.#data.push(null);
          const rep = (this.#data.length >> 1) - 1;
          _debugLog('[RepTable#insert()] inserted', { val, target: this.target, rep });
          this.#size += 1;
          return rep;
        }
        const placementIdx = freeIdx << 1;
        if (this.#data[placementIdx] !== RepTable.FREE) {
          throw new Error('corrupt rep table freelist: head does not point at a freed slot');
        }
        this.#data[0] = this.#data[placementIdx + 1];
        this.#data[placementIdx] = val;
        this.#data[placementIdx + 1] = null;
        _debugLog('[RepTable#insert()] inserted', { val, target: this.target, rep: freeIdx });
        this.#size += 1;
        return freeIdx;
      }
      
      get(rep) {
        _debugLog('[RepTable#get()] args', { rep, target: this.target });
        if (rep === 0) { throw new Error('invalid resource rep during get, (cannot be 0)'); }
        
        const baseIdx = rep << 1;
        const val = this.#data[baseIdx];
        if (val === RepTable.FREE) { return undefined; }
        return val;
      }
      
      contains(rep) {
        _debugLog('[RepTable#contains()] args', { rep, target: this.target });
        if (rep === 0) { throw new Error('invalid resource rep during contains, (cannot be 0)'); }
        
        const baseIdx = rep << 1;
        const val = this.#data[baseIdx];
        return val !== RepTable.FREE && !!val;
      }
      
      remove(rep) {
        _debugLog('[RepTable#remove()] args', { rep, target: this.target });
        if (rep === 0) { throw new Error('invalid resource rep during remove, (cannot be 0)'); }
        if (this.#data.length === 2) { throw new Error('invalid'); }
        
        const baseIdx = rep << 1;
        if (baseIdx >= this.#data.length) {
          throw new Error(`invalid rep [${rep}] during remove, out of range`);
        }
        const val = this.#data[baseIdx];
        if (val === RepTable.FREE) {
          throw new Error(`double removal of rep [${rep}] (already freed)`);
        }
        
        this.#data[baseIdx] = RepTable.FREE;
        this.#data[baseIdx + 1] = this.#data[0];
        this.#data[0] = rep;
        this.#size -= 1;
        
        return val;
      }
      
      size() { return this.#size; }
      
      clear() {
        _debugLog('[RepTable#clear()] args', { rep, target: this.target });
        this.#data = [0, null];
      }
    }
    
    class ComponentAsyncState {
      static EVENT_HANDLER_EVENTS = [ 'backpressure-change' ];
      
      static TickResult = {
        // no suspended tasks remain
        DONE: 'done',
        // a suspended task was resumed (more may be ready)
        RESUMED: 'resumed',
        // suspended tasks remain but none were ready
        IDLE: 'idle',
      };
      
      #componentIdx;
      #callingAsyncImport = false;
      #syncImportWait = promiseWithResolvers();
      #lockHolderTaskID = null;
      #lockWaiters = [];
      #lockHandoffScheduled = false;
      #pendingTaskStarts = 0;
      #parkedTasks = new Map();
      #suspendedTasksByTaskID = new Map();
      #suspendedTaskIDs = [];
      #errored = null;
      #trapped = false;
      #backpressure = 0;
      #backpressureWaiters = 0n;
      
      #handlerMap = new Map();
      #nextHandlerID = 0n;
      
      #tickLoop = null;
      #tickLoopInterval = null;
      
      #onExclusiveReleaseHandlers = [];
      
      #mayLeave = true;
      
      handles;
      subtasks;
      
      constructor(args) {
        this.#componentIdx = args.componentIdx;
        this.handles = new RepTable({ target: `component [${this.#componentIdx}] handles (waitable objects)` });
        this.subtasks = new RepTable({ target: `component [${this.#componentIdx}] subtasks` });
      };
      
      componentIdx() { return this.#componentIdx; }
      
      get mayLeave() {
        const flags = INSTANCE_FLAGS.get(this.#componentIdx);
        return flags === undefined ? this.#mayLeave : flags.value === 1;
      }
      set mayLeave(value) {
        if (typeof value !== 'boolean') { throw new TypeError('mayLeave must be a boolean'); }
        this.#mayLeave = value;
        const flags = INSTANCE_FLAGS.get(this.#componentIdx);
        if (flags !== undefined) { flags.value = value ? 1 : 0; }
      }
      
      errored() { return this.#errored !== null; }
      setErrored(err) {
        _debugLog('[ComponentAsyncState#setErrored()] component errored', { err, componentIdx: this.#componentIdx });
        if (this.#errored) { return; }
        if (!err) {
          err = new Error('error elswehere (see other component instance error)')
          err.componentIdx = this.#componentIdx;
        }
        this.#errored = err;
      }
      
      markTrapped(err) {
        if (!(err instanceof WebAssemblyRuntimeError)) {
          return false;
        }
        err = _normalizeCoreTrap(err);
        this.#trapped = true;
        _debugLog('[ComponentAsyncState#markTrapped()] component trapped', { err, componentIdx: this.#componentIdx });
        if (STORE_TRAP.error === null) { STORE_TRAP.error = err; }
        return true;
      }
      
      throwIfTrapped() {
        if (this.#trapped) {
          throw new WebAssemblyRuntimeError("wasm trap: cannot enter component instance");
        }
      }
      
      callingSyncImport(val) {
        if (val === undefined) { return this.#callingAsyncImport; }
        if (typeof val !== 'boolean') { throw new TypeError('invalid setting for async import'); }
        const prev = this.#callingAsyncImport;
        this.#callingAsyncImport = val;
        if (prev === true && this.#callingAsyncImport === false) {
          this.#notifySyncImportEnd();
        }
      }
      
      #notifySyncImportEnd() {
        const existing = this.#syncImportWait;
        this.#syncImportWait = promiseWithResolvers();
        existing.resolve();
      }
      
      async waitForSyncImportCallEnd() {
        await this.#syncImportWait.promise;
      }
      
      setBackpressure(v) {
        this.#backpressure = v;
        return this.#backpressure
      }
      getBackpressure() { return this.#backpressure; }
      
      incrementBackpressure() {
        const current = this.#backpressure;
        if (current < 0 || current > 2**16) {
          throw new Error(`invalid current backpressure value [${current}]`);
        }
        const newValue = this.getBackpressure() + 1;
        if (newValue >= 2**16) {
          throw new Error(`invalid new backpressure value [${newValue}], overflow`);
        }
        return this.setBackpressure(newValue);
      }
      
      decrementBackpressure() {
        const current = this.#backpressure;
        if (current < 0 || current > 2**16) {
          throw new Error(`invalid current backpressure value [${current}]`);
        }
        const newValue = Math.max(0, current - 1);
        if (newValue < 0) {
          throw new Error(`invalid new backpressure value [${newValue}], underflow`);
        }
        return this.setBackpressure(newValue);
      }
      hasBackpressure() { return this.#backpressure > 0; }
      
      waitForBackpressure() {
        let backpressureCleared = false;
        const cstate = this;
        cstate.addBackpressureWaiter();
        const handlerID = this.registerHandler({
          event: 'backpressure-change',
          fn: (bp) => {
            if (bp === 0) {
              cstate.removeHandler(handlerID);
              backpressureCleared = true;
            }
          }
        });
        return new Promise((resolve) => {
          const interval = setInterval(() => {
            if (backpressureCleared) { return; }
            clearInterval(interval);
            cstate.removeBackpressureWaiter();
            resolve(null);
          }, 0);
        });
      }
      
      registerHandler(args) {
        const { event, fn } = args;
        if (!event) { throw new Error("missing handler event"); }
        if (!fn) { throw new Error("missing handler fn"); }
        
        if (!ComponentAsyncState.EVENT_HANDLER_EVENTS.includes(event)) {
          throw new Error(`unrecognized event handler [${event}]`);
        }
        
        const handlerID = this.#nextHandlerID++;
        let handlers = this.#handlerMap.get(event);
        if (!handlers) {
          handlers = [];
          this.#handlerMap.set(event, handlers)
        }
        
        handlers.push({ id: handlerID, fn, event });
        return handlerID;
      }
      
      removeHandler(args) {
        const { event, handlerID } = args;
        const registeredHandlers = this.#handlerMap.get(event);
        if (!registeredHandlers) { return; }
        const found = registeredHandlers.find(h => h.id === handlerID);
        if (!found) { return; }
        this.#handlerMap.set(event, this.#handlerMap.get(event).filter(h => h.id !== handlerID));
      }
      
      getBackpressureWaiters() { return this.#backpressureWaiters; }
      addBackpressureWaiter() { this.#backpressureWaiters++; }
      removeBackpressureWaiter() {
        this.#backpressureWaiters--;
        if (this.#backpressureWaiters < 0) {
          throw new Error("unexepctedly negative number of backpressure waiters");
        }
      }
      
      // The per-slice mutual-exclusion lock for guest execution in this
      // component instance. Guest slices (callback invocations and
      // sync-lifted bodies) must be atomic per component even across the
      // JSPI suspensions jco introduces for host imports: wit-bindgen's
      // executors publish per-task state in single linear-memory cells
      // (the wasip3-task pointer, context-local storage discipline) that
      // an interleaved slice of the same component corrupts
      //
      // The lock is *owned*: acquisition records the holder task and
      // release is a no-op for anyone else, so a task exiting can no
      // longer drop a hold it does not own (blind acquire/release-any
      // was the previous discipline). Contended acquisition queues
      // FIFO; release hands the lock to the next waiter directly.
      isExclusivelyLocked() { return this.#lockHolderTaskID !== null; }
      exclusivelyLockedBy(taskID) { return this.#lockHolderTaskID === taskID; }
      
      exclusiveLock(taskID) {
        _debugLog('[ComponentAsyncState#exclusiveLock()]', {
          holder: this.#lockHolderTaskID,
          requester: taskID,
          componentIdx: this.#componentIdx,
        });
        if (taskID === undefined || taskID === null) {
          throw new Error('exclusive lock requires the acquiring task id');
        }
        if (this.#lockHolderTaskID !== null) {
          throw new Error(`component [${this.#componentIdx}] exclusive lock held by task [${this.#lockHolderTaskID}], requested by [${taskID}]`);
        }
        this.#lockHolderTaskID = taskID;
      }
      
      // Awaitable acquisition: takes the lock immediately when free,
      // otherwise queues FIFO behind the current holder and earlier
      // waiters. The resolved promise implies ownership.
      acquireExclusiveLock(taskID) {
        if (taskID === undefined || taskID === null) {
          throw new Error('exclusive lock requires the acquiring task id');
        }
        if (this.#lockHolderTaskID === null) {
          this.#lockHolderTaskID = taskID;
          _debugLog('[ComponentAsyncState#acquireExclusiveLock()] acquired', {
            holder: taskID,
            componentIdx: this.#componentIdx,
          });
          return;
        }
        if (this.#lockHolderTaskID === taskID) {
          throw new Error(`task [${taskID}] already holds the lock for component [${this.#componentIdx}]`);
        }
        _debugLog('[ComponentAsyncState#acquireExclusiveLock()] waiting', {
          holder: this.#lockHolderTaskID,
          requester: taskID,
          componentIdx: this.#componentIdx,
          queued: this.#lockWaiters.length,
        });
        return new Promise((resolve) => {
          this.#lockWaiters.push({ taskID, resolve });
        });
      }
      
      exclusiveRelease(taskID) {
        _debugLog('[ComponentAsyncState#exclusiveRelease()] args', {
          holder: this.#lockHolderTaskID,
          releaser: taskID,
          componentIdx: this.#componentIdx,
        });
        if (this.#lockHolderTaskID !== taskID) {
          // Ownerless releases were the historical behavior; a foreign
          // release now leaves the hold intact
          _debugLog('[ComponentAsyncState#exclusiveRelease()] ignoring foreign release', {
            holder: this.#lockHolderTaskID,
            releaser: taskID,
            componentIdx: this.#componentIdx,
          });
          return false;
        }
        
        // Make the release observable before handing the lock to the next
        // asynchronous guest slice.
        //
        // Release handlers may expose a lifted value whose consumer immediately
        // performs a synchronous call on the same component; that call must run
        // while the instance is genuinely unlocked, not via enterSync's
        // lock-free fallback code.
        this.#lockHolderTaskID = null;
        
        this.#onExclusiveReleaseHandlers = this.#onExclusiveReleaseHandlers.filter(v => !!v);
        for (const [idx, f] of this.#onExclusiveReleaseHandlers.entries()) {
          try {
            this.#onExclusiveReleaseHandlers[idx] = null;
            f();
          } catch (err) {
            _debugLog("error while executing handler for next exclusive release", err);
            throw err;
          }
        }
        this.#scheduleLockHandoff();
        return true;
      }
      
      #scheduleLockHandoff() {
        if (this.#lockHandoffScheduled || this.#lockWaiters.length === 0) { return; }
        this.#lockHandoffScheduled = true;
        queueMicrotask(() => {
          this.#lockHandoffScheduled = false;
          // A synchronous call triggered by a release handler gets the
          // first opportunity to use the unlocked component.
          //
          // Its release will leave this queued handoff in place.
          if (this.#lockHolderTaskID !== null) {
            this.#scheduleLockHandoff();
            return;
          }
          const next = this.#lockWaiters.shift();
          if (!next) { return; }
          this.#lockHolderTaskID = next.taskID;
          next.resolve();
        });
      }
      
      onNextExclusiveRelease(fn) {
        _debugLog('[ComponentAsyncState#()onNextExclusiveRelease] registering');
        this.#onExclusiveReleaseHandlers.push(fn);
      }
      
      async waitForExclusiveRelease() {
        while (this.isExclusivelyLocked()) {
          await new Promise(resolve => this.onNextExclusiveRelease(resolve));
        }
      }
      
      #getSuspendedTaskMeta(taskID) {
        return this.#suspendedTasksByTaskID.get(taskID);
      }
      
      #removeSuspendedTaskMeta(taskID) {
        _debugLog('[ComponentAsyncState#removeSuspendedTaskMeta()] removing suspended task', {
          taskID,
          componentIdx: this.#componentIdx,
        });
        const idx = this.#suspendedTaskIDs.findIndex(t => t === taskID);
        const meta = this.#suspendedTasksByTaskID.get(taskID);
        this.#suspendedTaskIDs[idx] = null;
        this.#suspendedTasksByTaskID.delete(taskID);
        return meta;
      }
      
      #addSuspendedTaskMeta(meta) {
        if (!meta) { throw new Error('missing task meta'); }
        const taskID = meta.taskID;
        this.#suspendedTasksByTaskID.set(taskID, meta);
        this.#suspendedTaskIDs.push(taskID);
        if (this.#suspendedTasksByTaskID.size < this.#suspendedTaskIDs.length - 10) {
          this.#suspendedTaskIDs = this.#suspendedTaskIDs.filter(t => t !== null);
        }
      }
      
      // TODO(threads): readyFn is normally on the thread
      suspendTask(args) {
        const { task, readyFn, cancellable, onResume } = args;
        const taskID = task.id();
        const componentIdx = task.componentIdx();
        _debugLog('[ComponentAsyncState#suspendTask()]', {
          taskID,
          componentIdx: this.#componentIdx,
          taskEntryFnName: task.entryFnName(),
          subtask: task.getParentSubtask(),
        });
        
        if (componentIdx !== this.#componentIdx) {
          throw new Error('assert: task component idx should match async state');
        }
        
        if (this.#getSuspendedTaskMeta(taskID)) {
          throw new Error(`task [${taskID}] already suspended`);
        }
        
        let promise;
        let resume;
        if (onResume) {
          resume = () => onResume(!task.isCancelled());
        } else {
          const resolvers = promiseWithResolvers();
          promise = resolvers.promise;
          resume = () => resolvers.resolve(!task.isCancelled());
        }
        this.#addSuspendedTaskMeta({
          task,
          taskID,
          cancellable,
          readyFn,
          resume: () => {
            _debugLog('[ComponentAsyncState] resuming suspended task', {
              taskID,
              componentIdx: this.#componentIdx,
            });
            // TODO(threads): it's thread cancellation we should be checking for below, not task
            resume();
          },
        });
        
        // A caller synchronously driving one task quantum (for
        // example, subtask.cancel) waits for the resumed task to
        // either resolve or suspend again.
        task.notifyProgress();
        
        this.runTickLoop();
        _checkForDeadlock();
        
        return promise;
      }
      
      resumeTaskByID(taskID) {
        const meta = this.#removeSuspendedTaskMeta(taskID);
        if (!meta) { return false; }
        if (meta.taskID !== taskID) { throw new Error('task ID does not match'); }
        meta.resume();
        return true;
      }
      
      suspendedTaskReady(taskID) {
        const meta = this.#getSuspendedTaskMeta(taskID);
        if (!meta) { return false; }
        if (!meta.readyFn) {
          throw new Error(`suspended task [${taskID}] is missing a readiness function`);
        }
        return meta.task.isRejected() || meta.readyFn();
      }
      
      suspendedTaskCancellable(taskID) {
        return !!this.#getSuspendedTaskMeta(taskID)?.cancellable;
      }
      
      isTaskSuspended(taskID) {
        return this.#suspendedTasksByTaskID.has(taskID);
      }
      
      suspendedTaskMetas() {
        return this.#suspendedTasksByTaskID.values();
      }
      
      addPendingTaskStart() { this.#pendingTaskStarts++; }
      removePendingTaskStart() { this.#pendingTaskStarts--; }
      
      hasPendingSchedulerWork() {
        if (this.#pendingTaskStarts > 0) { return true; }
        if (this.#lockHandoffScheduled) { return true; }
        for (const meta of this.#suspendedTasksByTaskID.values()) {
          if (meta.task.isRejected() || meta.readyFn()) { return true; }
        }
        return false;
      }
      
      async runTickLoop() {
        if (this.#tickLoop !== null) { return; }
        this.#tickLoop = 1;
        setTimeout(async () => {
          let result = this.tick();
          while (result !== ComponentAsyncState.TickResult.DONE) {
            if (result === ComponentAsyncState.TickResult.IDLE) {
              _checkForDeadlock();
            }
            // After resuming a task, re-tick as soon as the resumed
            // slice's microtask continuations have drained (timeout 0)
            // so queued sibling resumptions aren't charged the idle
            // polling interval; otherwise poll at the idle cadence.
            const delay = result === ComponentAsyncState.TickResult.RESUMED ? 0 : 10;
            await new Promise((resolve) => setTimeout(resolve, delay));
            result = this.tick();
          }
          this.#tickLoop = null;
        }, 10);
      }
      
      tick() {
        // _debugLog('[ComponentAsyncState#tick()]', { suspendedTaskIDs: this.#suspendedTaskIDs });
        
        const resumableTasks = this.#suspendedTaskIDs.filter(t => t !== null);
        for (const taskID of resumableTasks) {
          const meta = this.#suspendedTasksByTaskID.get(taskID);
          if (!meta || !meta.readyFn) {
            throw new Error(`missing/invalid task despite ID [${taskID}] being present`);
          }
          
          // If the task failed via any means, allow the task to resume because
          // it's been cancelled -- the callback should immediately exit as well
          if (meta.task.isRejected()) {
            _debugLog('[ComponentAsyncState#tick()] detected task rejection, leaving early', { meta });
            this.resumeTaskByID(taskID);
            return ComponentAsyncState.TickResult.RESUMED;
          }
          
          const isReady = meta.readyFn();
          if (!isReady) { continue; }
          
          _debugLog('[ComponentAsyncState#tick()] resuming task via tick', {
            taskID,
            componentIdx: this.#componentIdx,
          });
          this.resumeTaskByID(taskID);
          
          // NOTE: during single-flight resumption, we should resume at most one task per
          // tick so that the resumed slice (a microtask continuation)
          // runs -- and its current-task register window opens and
          // closes -- before any sibling task of this component is
          // resumed.
          //
          // Resuming multiple suspended tasks in one synchronous
          // cascade interleaves their register save/restore windows
          // ([restoreA, restoreB, resumeA, resumeB]), re-entering wasm
          // with the register naming the wrong task, and the
          // 'known residual' of the JSPI current-task register
          // fix); with concurrent task lifetimes per component this
          // corrupts guest context-local storage.
          return ComponentAsyncState.TickResult.RESUMED;
        }
        
        const idle = this.#suspendedTaskIDs.filter(t => t !== null).length > 0;
        return idle
        ? ComponentAsyncState.TickResult.IDLE
        : ComponentAsyncState.TickResult.DONE;
      }
      
      createWaitable(args) {
        return new Waitable({ target: args?.target, });
      }
    }
    
    function getOrCreateAsyncState(componentIdx, init) {
      if (!ASYNC_STATE.has(componentIdx)) {
        const newState = new ComponentAsyncState({ componentIdx });
        ASYNC_STATE.set(componentIdx, newState);
      }
      return ASYNC_STATE.get(componentIdx);
    }
    const GLOBAL_COMPONENT_MEMORY_MAP = new Map();
    
    function lookupMemoriesForComponent(args) {
      const { componentIdx } = args ?? {};
      if (args.componentIdx === undefined) { throw new TypeError("missing component idx"); }
      
      const metas = GLOBAL_COMPONENT_MEMORY_MAP.get(componentIdx);
      if (!metas) { return []; }
      
      if (args.memoryIdx === undefined) {
        return Object.values(metas);
      }
      
      const meta = metas[args.memoryIdx];
      return meta?.memory;
    }
    
    class AsyncSubtask {
      static _ID = 0n;
      
      static State = {
        STARTING: 0,
        STARTED: 1,
        RETURNED: 2,
        CANCELLED_BEFORE_STARTED: 3,
        CANCELLED_BEFORE_RETURNED: 4,
      };
      
      #id;
      #state = AsyncSubtask.State.STARTING;
      #componentIdx;
      
      #parentTask;
      #childTask = null;
      
      #dropped = false;
      #cancelRequested = false;
      
      #memoryIdx = null;
      #lenders = null;
      
      #waitable = null;
      
      #callbackFn = null;
      #callbackFnName = null;
      
      #postReturnFn = null;
      #onProgressFn = null;
      #pendingEventFn = null;
      
      #callMetadata = {};
      
      #resolved = false;
      
      #onResolveHandlers = [];
      #onStartHandlers = [];
      
      #result = null;
      #resultSet = false;
      
      fnName;
      target;
      isAsync;
      isManualAsync;
      // One execution slice awaited by the conditional cancel trampoline.
      cancelProgress = null;
      
      constructor(args) {
        if (typeof args.componentIdx !== 'number') {
          throw new Error('invalid componentIdx for subtask creation');
        }
        this.#componentIdx = args.componentIdx;
        
        this.#id = ++AsyncSubtask._ID;
        this.fnName = args.fnName;
        
        if (!args.parentTask) { throw new Error('missing parent task during subtask creation'); }
        this.#parentTask = args.parentTask;
        
        if (args.childTask) { this.#childTask = args.childTask; }
        
        if (args.memoryIdx) { this.#memoryIdx = args.memoryIdx; }
        
        if (!args.waitable) { throw new Error("missing/invalid waitable"); }
        this.#waitable = args.waitable;
        
        if (args.callMetadata) { this.#callMetadata = args.callMetadata; }
        
        this.#lenders = [];
        this.target = args.target;
        this.isAsync = args.isAsync;
        this.isManualAsync = args.isManualAsync;
      }
      
      id() { return this.#id; }
      parentTaskID() { return this.#parentTask?.id(); }
      childTaskID() { return this.#childTask?.id(); }
      state() { return this.#state; }
      
      waitable() { return this.#waitable; }
      waitableRep() { return this.#waitable.idx(); }
      
      join() { return this.#waitable.join(...arguments); }
      getPendingEvent() { return this.#waitable.getPendingEvent(...arguments); }
      hasPendingEvent() { return this.#waitable.hasPendingEvent(...arguments); }
      setPendingEvent() { return this.#waitable.setPendingEvent(...arguments); }
      
      setTarget(tgt) { this.target = tgt; }
      
      getResult() {
        if (!this.#resultSet) { throw new Error("subtask result has not been set") }
        return this.#result;
      }
      setResult(v) {
        if (this.#resultSet) { throw new Error("subtask result has already been set"); }
        this.#result = v;
        this.#resultSet = true;
      }
      
      componentIdx() { return this.#componentIdx; }
      
      setChildTask(t) {
        if (!t) { throw new Error('cannot set missing/invalid child task on subtask'); }
        if (this.#childTask) { throw new Error('child task is already set on subtask'); }
        if (this.#parentTask === t) { throw new Error("parent cannot be child"); }
        this.#childTask = t;
      }
      getChildTask(t) { return this.#childTask; }
      
      getParentTask() { return this.#parentTask; }
      
      setCallbackFn(f, name) {
        if (!f) { return; }
        if (this.#callbackFn) { throw new Error('callback fn can only be set once'); }
        this.#callbackFn = f;
        this.#callbackFnName = name;
      }
      
      getCallbackFnName() {
        if (!this.#callbackFn) { return undefined; }
        return this.#callbackFn.name;
      }
      
      setPostReturnFn(f) {
        if (!f) { return; }
        if (this.#postReturnFn) { throw new Error('postReturn fn can only be set once'); }
        this.#postReturnFn = f;
      }
      
      setOnProgressFn(f) {
        if (this.#onProgressFn) { throw new Error('on progress fn can only be set once'); }
        this.#onProgressFn = f;
      }
      
      isNotStarted() {
        return this.#state == AsyncSubtask.State.STARTING;
      }
      
      cancellationRequested() { return this.#cancelRequested; }
      
      // Request cooperative cancellation of this subtask, on behalf of the
      // supertask (i.e. `canon subtask.cancel`).
      //
      // If the callee is another guest task, the request is delivered to it and
      // the callee confirms via `task.cancel` (or still resolves via `task.return`).
      //
      // If the callee is a host function there is (currently) no host-side
      // cancellation hook, so the pending call is treated as immediately
      // cancelled -- consistent with hosts being expected to resolve
      // cancellation promptly -- and any later host resolution is discarded
      // (see `AsyncTask#onResolve`).
      requestCancellation() {
        _debugLog('[AsyncSubtask#requestCancellation()] args', {
          componentIdx: this.#componentIdx,
          subtaskID: this.#id,
          state: this.#state,
          childTaskID: this.childTaskID(),
          fnName: this.fnName,
        });
        if (this.#cancelRequested) {
          throw new Error('cancellation has already been requested for this subtask');
        }
        this.#cancelRequested = true;
        
        if (this.#resolved) { return; }
        
        if (this.#childTask) {
          this.#childTask.requestCancellation();
          return;
        }
        
        this.onResolve(null);
      }
      
      registerOnStartHandler(f) {
        this.#onStartHandlers.push(f);
      }
      
      onStart(args) {
        _debugLog('[AsyncSubtask#onStart()] args', {
          componentIdx: this.#componentIdx,
          subtaskID: this.#id,
          parentTaskID: this.parentTaskID(),
          fnName: this.fnName,
          args,
        });
        
        if (this.#onProgressFn) { this.#onProgressFn(); }
        
        // Starting a nested operation is a task execution boundary.
        // In particular, a cancellation handler may synchronously
        // enter an import which then suspends in the host.  Wake a
        // supertask that is driving one cancellation slice so an
        // async `subtask.cancel` can report BLOCKED without waiting
        // for that nested operation to finish.
        this.#parentTask.notifyProgress();
        
        this.#state = AsyncSubtask.State.STARTED;
        
        let result;
        
        // If we have been provided a helper start function as a result of
        // component fusion performed by wasmtime tooling, then we can call that helper and lifts/lowers will
        // be performed for us.
        //
        // See also documentation on `HostIntrinsic::PrepareCall`
        //
        if (this.#callMetadata.startFn) {
          result = this.#callMetadata.startFn.apply(null, args?.startFnParams ?? []);
        }
        
        return result;
      }
      
      
      registerOnResolveHandler(f) {
        this.#onResolveHandlers.push(f);
      }
      
      reject(subtaskErr) {
        if (this.#resolved) { return; }
        
        if (this.#onProgressFn) { this.#onProgressFn(); }
        
        if (this.#state === AsyncSubtask.State.STARTING) {
          this.#state = AsyncSubtask.State.CANCELLED_BEFORE_STARTED;
        } else if (this.#state === AsyncSubtask.State.STARTED) {
          this.#state = AsyncSubtask.State.CANCELLED_BEFORE_RETURNED;
        } else {
          throw new Error('cannot reject a completed subtask');
        }
        
        this.#resolved = true;
        this.#parentTask.removeSubtask(this);
        this.#parentTask.reject(subtaskErr);
      }
      
      onResolve(subtaskValue) {
        _debugLog('[AsyncSubtask#onResolve()] args', {
          componentIdx: this.#componentIdx,
          subtaskID: this.#id,
          isAsync: this.isAsync,
          childTaskID: this.childTaskID(),
          parentTaskID: this.parentTaskID(),
          parentTaskFnName: this.#parentTask?.entryFnName(),
          fnName: this.fnName,
        });
        
        if (this.#resolved) {
          throw new Error('subtask has already been resolved');
        }
        
        if (this.#onProgressFn) { this.#onProgressFn(); }
        
        if (subtaskValue === null && this.#cancelRequested) {
          if (this.#state === AsyncSubtask.State.STARTING) {
            this.#state = AsyncSubtask.State.CANCELLED_BEFORE_STARTED;
          } else {
            if (this.#state !== AsyncSubtask.State.STARTED) {
              throw new Error('resolved subtask must have been started before cancellation');
            }
            this.#state = AsyncSubtask.State.CANCELLED_BEFORE_RETURNED;
          }
        } else {
          if (this.#state !== AsyncSubtask.State.STARTED) {
            throw new Error('resolved subtask must have been started before completion');
          }
          this.#state = AsyncSubtask.State.RETURNED;
        }
        
        this.setResult(subtaskValue);
        
        for (const f of this.#onResolveHandlers) {
          try {
            f(subtaskValue);
          } catch (err) {
            console.error("error during subtask resolve handler", err);
            throw err;
          }
        }
        
        const callMetadata = this.getCallMetadata();
        
        // TODO(fix): we should be able to easily have the caller's meomry
        // to lower into here, but it's not present in PrepareCall
        const memory = callMetadata.memory ?? this.#parentTask?.getReturnMemory() ?? lookupMemoriesForComponent({ componentIdx: this.#parentTask?.componentIdx() })[0];
        // NOTE: cancelled resolutions carry no value, so nothing is lowered
        const returned = this.#state === AsyncSubtask.State.RETURNED;
        if (returned && callMetadata && !callMetadata.returnFn && (this.isAsync || callMetadata.funcTypeIsAsync) && callMetadata.resultPtr && memory) {
          const { resultPtr, realloc } = callMetadata;
          const lowers = callMetadata.lowers; // may have been updated in task.return of the child
          if (lowers && lowers.length > 0) {
            lowers[0]({
              componentIdx: this.#componentIdx,
              memory,
              realloc,
              vals: [subtaskValue],
              storagePtr: resultPtr,
              stringEncoding: callMetadata.stringEncoding,
            });
          }
        }
        
        this.#resolved = true;
        this.#parentTask.removeSubtask(this);
        
        if (!this.isAsync) {
          this.deliverResolve();
          const rep = this.waitableRep();
          if (rep) {
            try {
              const removed = this.#getComponentState().handles.remove(rep);
              if (removed !== this) {
                throw new Error("unexpectedly received non-self Subtask from handle removal");
              }
              this.drop();
            } catch (err) {
              _debugLog('[AsyncSubtask#onResolve()] failed to remove subtask after sync subtask completion', err);
            }
          }
        }
      }
      
      getStateNumber() { return this.#state; }
      isReturned() { return this.#state === AsyncSubtask.State.RETURNED; }
      
      getCallMetadata() { return this.#callMetadata; }
      
      isResolved() {
        if (this.#state === AsyncSubtask.State.STARTING
        || this.#state === AsyncSubtask.State.STARTED) {
          return false;
        }
        if (this.#state === AsyncSubtask.State.RETURNED
        || this.#state === AsyncSubtask.State.CANCELLED_BEFORE_STARTED
        || this.#state === AsyncSubtask.State.CANCELLED_BEFORE_RETURNED) {
          return true;
        }
        throw new Error('unrecognized internal Subtask state [' + this.#state + ']');
      }
      
      addLender(handle) {
        _debugLog('[AsyncSubtask#addLender()] args', { handle });
        if (!Number.isNumber(handle)) { throw new Error('missing/invalid lender handle [' + handle + ']'); }
        
        if (this.#lenders.length === 0 || this.isResolved()) {
          throw new Error('subtask has no lendors or has already been resolved');
        }
        
        handle.lends++;
        this.#lenders.push(handle);
      }
      
      deliverResolve() {
        _debugLog('[AsyncSubtask#deliverResolve()] args', {
          lenders: this.#lenders,
          parentTaskID: this.parentTaskID(),
          subtaskID: this.#id,
          childTaskID: this.childTaskID(),
          resolved: this.isResolved(),
          resolveDelivered: this.resolveDelivered(),
        });
        
        const cannotDeliverResolve = this.resolveDelivered() || !this.isResolved();
        if (cannotDeliverResolve) {
          throw new Error('subtask cannot deliver resolution twice, and the subtask must be resolved');
        }
        
        for (const lender of this.#lenders) {
          lender.lends--;
        }
        
        this.#lenders = null;
      }
      
      resolveDelivered() {
        _debugLog('[AsyncSubtask#resolveDelivered()] args', { });
        if (this.#lenders === null && !this.isResolved()) {
          throw new Error('invalid subtask state, lenders missing and subtask has not been resolved');
        }
        return this.#lenders === null;
      }
      
      drop() {
        _debugLog('[AsyncSubtask#drop()] args', {
          componentIdx: this.#componentIdx,
          parentTaskID: this.#parentTask?.id(),
          parentTaskFnName: this.#parentTask?.entryFnName(),
          childTaskID: this.#childTask?.id(),
          childTaskFnName: this.#childTask?.entryFnName(),
          subtaskFnName: this.fnName,
        });
        if (!this.#waitable) { throw new Error('missing/invalid inner waitable'); }
        if (!this.resolveDelivered()) {
          throw new Error('cannot drop a subtask which has not yet resolved');
        }
        if (this.#waitable) { this.#waitable.drop() }
        this.#dropped = true;
      }
      
      #getComponentState() {
        const state = getOrCreateAsyncState(this.#componentIdx);
        if (!state) {
          throw new Error('invalid/missing async state for component [' + componentIdx + ']');
        }
        return state;
      }
      
      getWaitableHandleIdx() {
        _debugLog('[AsyncSubtask#getWaitableHandleIdx()] args', { });
        if (!this.#waitable) { throw new Error('missing/invalid waitable'); }
        return this.waitableRep();
      }
    }
    
    class FutureValue {
      #start;
      #settled;
      #hideThen = 0;
      #thenFn;
      
      constructor(start) {
        if (typeof start !== 'function') {
          throw new TypeError('future start operation must be a function');
        }
        this.#start = start;
        this.#thenFn = this.#then.bind(this);
      }
      
      get then() {
        return this.#hideThen === 0 ? this.#thenFn : undefined;
      }
      
      #read() {
        if (!this.#settled) {
          // The start operation resolves to a non-thenable box so a
          // future-valued payload cannot be assimilated by this Promise.
          this.#settled = Promise.resolve().then(this.#start);
        }
        return this.#settled;
      }
      
      resolveAsValue(resolve) {
        this.#hideThen++;
        try {
          resolve(this);
        } finally {
          this.#hideThen--;
        }
      }
      
      #deliver(resolve, value) {
        if (value instanceof FutureValue) {
          // Promise resolution reads `then` synchronously. Hide it only
          // for that lookup so resolving this layer yields the inner
          // FutureValue instead of recursively awaiting it.
          value.resolveAsValue(resolve);
          return;
        }
        resolve(value);
      }
      
      #then(resolve, reject) {
        return this.#read().then(
        box => this.#deliver(resolve, box.value),
        reject,
        );
      }
    }
    const ASYNC_DETERMINISM = 'random';
    const _coinFlip = () => { return Math.random() > 0.5; };
    
    const ASYNC_EVENT_CODE = {
      NONE: 0,
      SUBTASK: 1,
      STREAM_READ: 2,
      STREAM_WRITE: 3,
      FUTURE_READ: 4,
      FUTURE_WRITE: 5,
      TASK_CANCELLED: 6,
    };
    const CURRENT_TASK_META = {};
    
    function _withGlobalCurrentTaskMeta(args) {
      _debugLog('[_withGlobalCurrentTaskMeta()] args', args);
      if (!args) { throw new TypeError('args missing'); }
      if (args.taskID === undefined) { throw new TypeError('missing task ID'); }
      if (args.componentIdx === undefined) { throw new TypeError('missing component idx'); }
      if (!args.fn) { throw new TypeError('missing fn'); }
      const { taskID, componentIdx, fn } = args;
      const previous = CURRENT_TASK_META[componentIdx] ?? null;
      const previousCurrent = CURRENT_TASK_META.current ?? null;
      
      try {
        CURRENT_TASK_META.current =
        CURRENT_TASK_META[componentIdx] = { taskID, componentIdx };
        return fn();
      } catch (err) {
        _debugLog("error while executing sync callee/callback", {
          ...args,
          err,
        });
        throw err;
      } finally {
        // Synchronous wrappers can nest without any intervening JS
        // scheduling. Restore the caller rather than clearing it so
        // helper core exports (for example fused return adapters) can
        // temporarily run under a different task of the same component.
        CURRENT_TASK_META[componentIdx] = previous;
        CURRENT_TASK_META.current = previousCurrent;
      }
    }
    
    async function _withGlobalCurrentTaskMetaAsync(args) {
      _debugLog('[_withGlobalCurrentTaskMetaAsync()] args', args);
      if (!args) { throw new TypeError('args missing'); }
      if (args.taskID === undefined) { throw new TypeError('missing task ID'); }
      if (args.componentIdx === undefined) { throw new TypeError('missing component idx'); }
      if (!args.fn) { throw new TypeError('missing fn'); }
      
      const { taskID, componentIdx, fn } = args;
      
      try {
        CURRENT_TASK_META.current =
        CURRENT_TASK_META[componentIdx] = { taskID, componentIdx };
        return await fn();
      } catch (err) {
        _debugLog("error while executing async callee/callback", {
          ...args,
          err,
        });
        throw err;
      } finally {
        CURRENT_TASK_META[componentIdx] = null;
        if (CURRENT_TASK_META.current?.taskID === taskID) {
          CURRENT_TASK_META.current = null;
        }
      }
    }
    
    class AsyncTask {
      static _ID = 0n;
      
      static State = {
        INITIAL: 'initial',
        CANCELLED: 'cancelled',
        CANCEL_PENDING: 'cancel-pending',
        CANCEL_DELIVERED: 'cancel-delivered',
        RESOLVED: 'resolved',
      }
      
      static BlockResult = {
        CANCELLED: 'block.cancelled',
        NOT_CANCELLED: 'block.not-cancelled',
      }
      
      #id;
      #componentIdx;
      #state;
      #isAsync;
      #isManualAsync;
      #callingWasmExport = true;
      #lockFreeEntry = false;
      #preserveFutureResult;
      #entryFnName = null;
      
      #onResolveHandlers = [];
      #progressWaiters = [];
      #completionPromise = null;
      #completionValue;
      #completionReady = false;
      #settleCompletionPromise;
      #rejected = false;
      
      #exitPromise = null;
      #onExitHandlers = [];
      
      #memoryIdx = null;
      #memory = null;
      
      #callbackFn = null;
      #callbackFnName = null;
      
      #postReturnFn = null;
      
      #getCalleeParamsFn = null;
      #calleeIsAsync = null;
      
      #stringEncoding = null;
      
      #parentSubtask = null;
      
      #errHandling;
      
      #backpressurePromise;
      #backpressureWaiters = 0n;
      
      #returnLowerFns = null;
      
      #resourceScopeId;
      #resourceBorrowCount = 0;
      #resourceLenders = [];
      #resourceScopeExited = false;
      
      #subtasks = [];
      
      #entered = false;
      #exited = false;
      #errored = null;
      
      cancelled = false;
      cancelRequested = false;
      alwaysTaskReturn = false;
      
      returnCalls =  0;
      storage = [0, 0];
      tmpRetI64HighBits = 0|0;
      
      constructor(opts) {
        this.#id = ++AsyncTask._ID;
        this.#resourceScopeId = ++RESOURCE_SCOPE_ID;
        RESOURCE_SCOPE_TASKS.set(this.#resourceScopeId, this);
        
        if (opts?.componentIdx === undefined) {
          throw new TypeError('missing component id during task creation');
        }
        this.#componentIdx = opts.componentIdx;
        
        this.#state = AsyncTask.State.INITIAL;
        this.#isAsync = opts?.isAsync ?? false;
        this.#isManualAsync = opts?.isManualAsync ?? false;
        this.#preserveFutureResult = opts?.preserveFutureResult ?? false;
        this.#entryFnName = opts.entryFnName;
        // Tasks that execute guest slices (export calls, fused
        // callees) default to true; import-handler tasks pass false
        // explicitly (they run host code nested inside the caller's
        // already-locked slice).
        this.#callingWasmExport = opts?.callingWasmExport !== false;
        
        const {
          promise: completionPromise,
          resolve: resolveCompletionPromise,
          reject: rejectCompletionPromise,
        } = promiseWithResolvers();
        this.#completionPromise = completionPromise;
        // A nested rejection can reach the root task while its Wasm
        // entrypoint is still suspended, before the export wrapper awaits
        // this promise. Mark it handled immediately while preserving the
        // original rejected promise for the eventual caller.
        completionPromise.catch(() => {});
        
        let completionSettled = false;
        const settleCompletionPromise = () => {
          if (completionSettled || !this.#completionReady) { return; }
          completionSettled = true;
          if (this.#errored !== null) {
            rejectCompletionPromise(this.#errored);
          } else if (this.#rejected) {
            rejectCompletionPromise(this.#completionValue);
          } else if (
          this.#preserveFutureResult
          && this.#completionValue instanceof FutureValue
          ) {
            this.#completionValue.resolveAsValue(resolveCompletionPromise);
          } else {
            resolveCompletionPromise(this.#completionValue);
          }
        };
        
        this.#settleCompletionPromise = settleCompletionPromise;
        this.#onResolveHandlers.push((results) => {
          if (this.#parentSubtask !== null) { return; }
          if (!this.#isAsync && !this.#isManualAsync) { return; }
          this.#completionValue = results;
          this.#completionReady = true;
          // Publish after the current guest slice returns, so a trap
          // in that slice can still reject the call. Do not wait for
          // task exit: detached work may require further host calls
          // or consumption of a returned resource's stream.
        });
        
        const {
          promise: exitPromise,
          resolve: resolveExitPromise,
          reject: rejectExitPromise,
        } = promiseWithResolvers();
        this.#exitPromise = exitPromise;
        
        this.#onExitHandlers.push(() => {
          if (this.#parentSubtask === null && (this.#isAsync || this.#isManualAsync)) {
            settleCompletionPromise();
          }
          resolveExitPromise();
        });
        
        if (opts.callbackFn) { this.#callbackFn = opts.callbackFn; }
        if (opts.callbackFnName) { this.#callbackFnName = opts.callbackFnName; }
        
        if (opts.getCalleeParamsFn) { this.#getCalleeParamsFn = opts.getCalleeParamsFn; }
        if (opts.stringEncoding) { this.#stringEncoding = opts.stringEncoding; }
        
        if (opts.parentSubtask) { this.#parentSubtask = opts.parentSubtask; }
        
        
        if (opts.errHandling) { this.#errHandling = opts.errHandling; }
      }
      
      taskState() { return this.#state; }
      id() { return this.#id; }
      componentIdx() { return this.#componentIdx; }
      entryFnName() { return this.#entryFnName; }
      
      resourceScopeId() { return this.#resourceScopeId; }
      
      addBorrowedHandle() {
        if (this.#resourceScopeExited) {
          throw new Error('cannot add a borrow to an exited resource scope');
        }
        this.#resourceBorrowCount++;
      }
      
      removeBorrowedHandle() {
        if (this.#resourceBorrowCount === 0) {
          throw new Error('resource borrow count underflow');
        }
        this.#resourceBorrowCount--;
      }
      
      addResourceLender(table, handle) {
        if (this.#resourceScopeExited) {
          throw new Error('cannot add a lender to an exited resource scope');
        }
        this.#resourceLenders.push({ table, handle });
      }
      
      validateResourceBorrowScope() {
        if (this.#resourceScopeExited) { return; }
        if (this.#resourceBorrowCount !== 0) {
          throw new WebAssemblyRuntimeError('borrow handles still remain at the end of the call');
        }
        for (const { table, handle } of this.#resourceLenders) {
          const idx = handle << 1;
          const lendCount = table[idx];
          if (!Number.isInteger(lendCount) || lendCount <= 0 || lendCount >= 2**30) {
            throw new Error('invalid resource lender state at scope exit');
          }
          table[idx] = lendCount - 1;
        }
        this.#resourceLenders = [];
        this.#resourceScopeExited = true;
        RESOURCE_SCOPE_TASKS.delete(this.#resourceScopeId);
      }
      
      completionPromise() { return this.#completionPromise; }
      settleCompletion() { this.#settleCompletionPromise(); }
      exitPromise() { return this.#exitPromise; }
      
      waitForProgress() {
        const { promise, resolve } = promiseWithResolvers();
        this.#progressWaiters.push(resolve);
        return promise;
      }
      
      notifyProgress() {
        const waiters = this.#progressWaiters;
        this.#progressWaiters = [];
        for (const resolve of waiters) { resolve(); }
      }
      
      isAsync() { return this.#isAsync; }
      isManualAsync() { return this.#isManualAsync; }
      isSync() { return !this.isAsync(); }
      
      getErrHandling() { return this.#errHandling; }
      
      hasCallback() { return this.#callbackFn !== null; }
      
      getReturnMemoryIdx() { return this.#memoryIdx; }
      setReturnMemoryIdx(idx) {
        if (idx === null) { return; }
        this.#memoryIdx = idx;
      }
      
      getReturnMemory() { return this.#memory; }
      setReturnMemory(m) {
        if (m === null) { return; }
        this.#memory = m;
      }
      
      setReturnLowerFns(fns) { this.#returnLowerFns = fns; }
      getReturnLowerFns() { return this.#returnLowerFns; }
      
      setCalleeIsAsync(value) {
        if (typeof value !== 'boolean') { throw new TypeError('callee async state must be a boolean'); }
        this.#calleeIsAsync = value;
      }
      
      setParentSubtask(subtask) {
        if (!subtask || !(subtask instanceof AsyncSubtask)) { return }
        if (this.#parentSubtask) { throw new Error('parent subtask can only be set once'); }
        this.#parentSubtask = subtask;
      }
      
      getParentSubtask() { return this.#parentSubtask; }
      
      // TODO(threads): this is very inefficient, we can pass along a root task,
      // and ideally do not need this once thread support is in place
      getRootTask() {
        let currentSubtask = this.getParentSubtask();
        let task = this;
        while (currentSubtask) {
          task = currentSubtask.getParentTask();
          currentSubtask = task.getParentSubtask();
        }
        return task;
      }
      
      setPostReturnFn(f) {
        if (!f) { return; }
        if (this.#postReturnFn) { throw new Error('postReturn fn can only be set once'); }
        this.#postReturnFn = f;
      }
      
      setCallbackFn(f, name) {
        if (!f) { return; }
        if (this.#callbackFn) { throw new Error('callback fn can only be set once'); }
        this.#callbackFn = f;
        this.#callbackFnName = name;
      }
      
      getCallbackFnName() {
        if (!this.#callbackFnName) { return undefined; }
        return this.#callbackFnName;
      }
      
      runCallbackFn(...args) {
        if (!this.#callbackFn) { throw new Error('no callback function has been set for task'); }
        if (this.#callbackFn._jcoMaySuspend === false) {
          return _withGlobalCurrentTaskMeta({
            taskID: this.#id,
            componentIdx: this.#componentIdx,
            fn: () => this.#callbackFn.apply(null, args),
          });
        }
        return _withGlobalCurrentTaskMetaAsync({
          taskID: this.#id,
          componentIdx: this.#componentIdx,
          fn: () => { return this.#callbackFn.apply(null, args); }
        });
      }
      
      getCalleeParams() {
        if (!this.#getCalleeParamsFn) { throw new Error('missing/invalid getCalleeParamsFn'); }
        return this.#getCalleeParamsFn();
      }
      
      // Legacy manually-async exports are sync-typed in the component
      // but use JSPI precisely so their guest stack may suspend.
      mayBlock() { return this.isAsync() || this.isManualAsync() || this.isResolvedState() }
      
      mayEnter(task) {
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        if (cstate.hasBackpressure()) {
          _debugLog('[AsyncTask#mayEnter()] disallowed due to backpressure', { taskID: this.#id });
          return false;
        }
        if (!cstate.callingSyncImport()) {
          _debugLog('[AsyncTask#mayEnter()] disallowed due to sync import call', { taskID: this.#id });
          return false;
        }
        const callingSyncExportWithSyncPending = cstate.callingSyncExport && !task.isAsync;
        if (!callingSyncExportWithSyncPending) {
          _debugLog('[AsyncTask#mayEnter()] disallowed due to sync export w/ sync pending', { taskID: this.#id });
          return false;
        }
        return true;
      }
      
      enterSync() {
        if (this.needsExclusiveLock()) {
          const cstate = getOrCreateAsyncState(this.#componentIdx);
          if (!cstate.isExclusivelyLocked()) {
            cstate.exclusiveLock(this.#id);
          } else {
            // A host-called sync export arriving while another
            // task's slice holds the lock: synchronous entry
            // cannot wait, and historically this entry silently
            // stole the hold. Run without the lock instead --
            // the holder's bookkeeping stays intact and its
            // release still pairs
            this.#lockFreeEntry = true;
            _debugLog('[AsyncTask#enterSync()] entering without exclusive lock', {
              taskID: this.#id,
              componentIdx: this.#componentIdx,
            });
          }
        }
        return true;
      }
      
      tryEnter() {
        if (this.#entered) {
          throw new Error(`task with ID [${this.#id}] should not be entered twice`);
        }
        
        if (this.deliverPendingCancel({ cancellable: true })) {
          this.cancel();
          return false;
        }
        
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        if (this.isSync()) {
          this.#entered = true;
          return true;
        }
        if (cstate.hasBackpressure()) { return null; }
        if (this.needsExclusiveLock()) {
          if (cstate.isExclusivelyLocked()) { return null; }
          cstate.exclusiveLock(this.#id);
        }
        
        if (this.deliverPendingCancel({ cancellable: true })) {
          cstate.exclusiveRelease(this.#id);
          this.cancel();
          return false;
        }
        
        this.#entered = true;
        return true;
      }
      
      async enter(opts) {
        _debugLog('[AsyncTask#enter()] args', {
          taskID: this.#id,
          componentIdx: this.#componentIdx,
          subtaskID: this.getParentSubtask()?.id(),
          args: opts,
          entryFnName: this.#entryFnName,
        });
        
        if (this.#entered) {
          throw new Error(`task with ID [${this.#id}] should not be entered twice`);
        }
        
        // If cancellation was requested before the task was entered, resolve
        // as cancelled without ever running guest code
        if (this.deliverPendingCancel({ cancellable: true })) {
          this.cancel();
          return false;
        }
        
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        
        if (opts?.isHost) {
          this.#entered = true;
          // A guest task may be synchronously blocked in this
          // host entry. Propagate that boundary so an async
          // cancellation driver can yield BLOCKED while the host
          // operation is outstanding.
          const parentTask = this.#parentSubtask?.getParentTask();
          if (
          parentTask?.taskState() === AsyncTask.State.CANCEL_DELIVERED
          || (parentTask && !parentTask.hasCallback())
          ) {
            parentTask.notifyProgress();
          }
          return this.#entered;
        }
        
        // NOTE: concurrent task lifetimes within one component instance are
        // permitted by the Component Model: entry is governed by the
        // backpressure and exclusive-lock checks below (the lock is held per
        // execution slice, not for the task's lifetime).
        //
        // Serializing entire task lifetimes here (the former "execution slot" queue)
        // deadlocks pipelines where a parked long-lived task's progress depends on a
        // later entry into the same component.
        
        // If a task is synchronous then we can avoid component-relevant
        // tracking and immediately enter.
        if (this.isSync()) {
          this.#entered = true;
          
          // TODO(breaking): remove once manually-specifying async fns is removed
          // It is currently possible for an actually sync export to be specified
          // as async via JSPI
          if (this.#isManualAsync) {
            if (this.needsExclusiveLock()) { await cstate.acquireExclusiveLock(this.#id); }
          }
          
          return this.#entered;
        }
        
        // Perform intial backpressure check
        if (cstate.hasBackpressure()) {
          cstate.addBackpressureWaiter();
          
          const result = await this.waitUntil({
            readyFn: () => {
              return !cstate.hasBackpressure();
            },
            cancellable: true,
          });
          
          cstate.removeBackpressureWaiter();
          
          if (!result || this.isCancelled()) {
            if (!this.isResolvedState()) { this.cancel(); }
            return false;
          }
        }
        
        // Acquire the per-slice exclusive lock (FIFO-queued when
        // contended); the first slice runs under this hold and the
        // driver loop releases/re-acquires it per slice thereafter.
        if (this.needsExclusiveLock()) {
          await cstate.acquireExclusiveLock(this.#id);
        }
        
        // Cancellation-before-start may resolve this task while its
        // queued lock acquisition is still pending. Acquiring the lock
        // does not make the already-resolved task runnable again.
        if (this.isResolvedState() || this.isCancelled()) {
          cstate.exclusiveRelease(this.#id);
          return false;
        }
        
        // Cancellation can be requested while entry is waiting for
        // backpressure or its exclusive lock. Do not execute the guest
        // after acquiring a lock for a task that should no longer start.
        if (this.deliverPendingCancel({ cancellable: true })) {
          cstate.exclusiveRelease(this.#id);
          this.cancel();
          return false;
        }
        
        this.#entered = true;
        return this.#entered;
      }
      
      isRunningState() { return this.#state !== AsyncTask.State.RESOLVED; }
      isResolvedState() { return this.#state === AsyncTask.State.RESOLVED; }
      isResolved() { return this.#state === AsyncTask.State.RESOLVED; }
      isExited() { return this.#exited; }
      
      async waitUntil(opts) {
        const { readyFn, cancellable } = opts;
        _debugLog('[AsyncTask#waitUntil()] args', { taskID: this.#id, args: { cancellable } });
        
        // TODO(fix): check for cancel
        // TODO(fix): determinism
        // TODO(threads): add this thread to waiting list
        
        const keepGoing = await this.suspendUntil({
          readyFn,
          cancellable,
        });
        
        return keepGoing;
      }
      
      async yieldUntil(opts) {
        const { readyFn, cancellable } = opts;
        _debugLog('[AsyncTask#yieldUntil()]', {
          taskID: this.#id,
          args: {
            cancellable,
          },
          componentIdx: this.#componentIdx,
        });
        
        // A callback YIELD is an explicit request to let other work run.
        // Unlike waits whose condition is already ready, it must always
        // suspend for at least one scheduler turn.
        const keepGoing = await this.immediateSuspend({ readyFn, cancellable });
        if (keepGoing) {
          return {
            code: ASYNC_EVENT_CODE.NONE,
            payload0: 0,
            payload1: 0,
          };
        }
        
        return {
          code: ASYNC_EVENT_CODE.TASK_CANCELLED,
          payload0: 0,
          payload1: 0,
        };
      }
      
      async suspendUntil(opts) {
        const { cancellable, readyFn } = opts;
        _debugLog('[AsyncTask#suspendUntil()] args', {
          taskID: this.#id,
          args: {
            cancellable,
          },
          componentIdx: this.#componentIdx,
        });
        
        const pendingCancelled = this.deliverPendingCancel({ cancellable });
        if (pendingCancelled) { return false; }
        
        const completed = await this.immediateSuspendUntil({ readyFn, cancellable });
        return completed;
      }
      
      suspendUntilCallback(opts, onResume) {
        const { cancellable, readyFn } = opts;
        if (this.deliverPendingCancel({ cancellable })) {
          onResume(false);
          return;
        }
        
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        cstate.suspendTask({
          task: this,
          cancellable,
          readyFn: () => {
            if (cancellable && this.#state === AsyncTask.State.CANCEL_PENDING) {
              return true;
            }
            return readyFn();
          },
          onResume: (keepGoing) => {
            if (keepGoing && this.deliverPendingCancel({ cancellable })) {
              keepGoing = false;
            }
            onResume(keepGoing);
          },
        });
      }
      
      // TODO(threads): equivalent to thread.suspend_until()
      async immediateSuspendUntil(opts) {
        const { cancellable, readyFn } = opts;
        _debugLog('[AsyncTask#immediateSuspendUntil()] args', {
          args: {
            cancellable,
            readyFn,
          },
          taskID: this.#id,
          componentIdx: this.#componentIdx,
        });
        
        const ready = readyFn();
        if (ready && ASYNC_DETERMINISM === 'random') {
          const coinFlip = _coinFlip();
          if (coinFlip) { return true }
        }
        
        const keepGoing = await this.immediateSuspend({ cancellable, readyFn });
        return keepGoing;
      }
      
      async immediateSuspend(opts) { // NOTE: equivalent to thread.suspend()
      // TODO(threads): store readyFn on the thread
      const { cancellable, readyFn } = opts;
      _debugLog('[AsyncTask#immediateSuspend()] args', { cancellable, readyFn });
      
      const pendingCancelled = this.deliverPendingCancel({ cancellable });
      if (pendingCancelled) { return false; }
      
      const cstate = getOrCreateAsyncState(this.#componentIdx);
      const keepGoing = await cstate.suspendTask({
        task: this,
        cancellable,
        readyFn: () => {
          // A pending cancellation request wakes cancellable waits
          if (cancellable && this.#state === AsyncTask.State.CANCEL_PENDING) {
            return true;
          }
          return readyFn();
        },
      });
      if (keepGoing && this.deliverPendingCancel({ cancellable })) { return false; }
      return keepGoing;
    }
    
    deliverPendingCancel(opts) {
      const { cancellable } = opts;
      _debugLog('[AsyncTask#deliverPendingCancel()]', {
        args: { cancellable },
        taskID: this.#id,
        componentIdx: this.#componentIdx,
      });
      
      if (cancellable && this.#state === AsyncTask.State.CANCEL_PENDING) {
        this.#state = AsyncTask.State.CANCEL_DELIVERED;
        return true;
      }
      
      return false;
    }
    
    isCancelled() { return this.cancelled }
    cancellationRequested() { return this.cancelRequested; }
    
    // Request cooperative cancellation of this task, called on behalf of a
    // supertask performing `subtask.cancel` on the subtask this task backs.
    //
    // The request is delivered at this task's next cancellable wait
    // (see suspendUntil/immediateSuspend), at which point the task is
    // expected to acknowledge via `task.cancel` or still resolve via
    // `task.return`.
    requestCancellation() {
      _debugLog('[AsyncTask#requestCancellation()] args', {
        taskID: this.#id,
        componentIdx: this.#componentIdx,
        state: this.#state,
      });
      if (this.isResolvedState() || this.cancelRequested) { return; }
      this.cancelRequested = true;
      if (this.#state === AsyncTask.State.INITIAL) {
        this.#state = AsyncTask.State.CANCEL_PENDING;
      }
      // Nudge the component's tick loop so that any suspended cancellable
      // wait observes the pending cancellation promptly
      getOrCreateAsyncState(this.#componentIdx).runTickLoop();
    }
    
    cancel(args) {
      _debugLog('[AsyncTask#cancel()] args', { });
      if (this.taskState() !== AsyncTask.State.CANCEL_DELIVERED) {
        throw new Error(`(component [${this.#componentIdx}]) task [${this.#id}] invalid task state [${this.taskState()}] for cancellation`);
      }
      this.validateResourceBorrowScope();
      this.cancelled = true;
      // Cancelled tasks resolve with no value (spec: `Task.cancel` calls
      // `on_resolve(None)`); an explicit error is only present on the
      // host-driven rejection path (see `reject()`).
      this.onResolve(args?.error ?? null);
      this.#state = AsyncTask.State.RESOLVED;
      // A task cancelled before entry has no driver loop that can
      // report its exit. Entered tasks notify after releasing their
      // component slice in `exit()`.
      if (!this.#entered) { this.notifyProgress(); }
    }
    
    onResolve(taskValue) {
      const handlers = this.#onResolveHandlers;
      this.#onResolveHandlers = [];
      for (const f of handlers) {
        try {
          f(taskValue);
        } catch (err) {
          _debugLog("[AsyncTask#onResolve] error during task resolve handler", err);
          throw err;
        }
      }
      
      // Rejections are control-flow failures, not canonical ABI results.
      // Propagate them through the subtask chain without running return
      // lowering or post-return hooks for a successful result.
      if (this.#rejected) {
        this.#parentSubtask?.reject(taskValue);
        return;
      }
      
      // NOTE: if the parent subtask has already been resolved (e.g. it was
      // cancelled via `subtask.cancel` while this task was still pending),
      // this task's resolution must be discarded rather than delivered.
      const parentSubtaskPending = this.#parentSubtask && !this.#parentSubtask.isResolved();
      const taskReturned = !this.isCancelled();
      
      if (parentSubtaskPending && taskReturned) {
        const meta = this.#parentSubtask.getCallMetadata();
        // Run the rturn fn if it has not already been called -- this *should* have happened in
        // `task.return`, but some paths do not go through task.return (e.g. async lower of sync fn
        // which goes through prepare + async-start-call)
        if (meta.returnFn && !meta.returnFnCalled) {
          _debugLog('[AsyncTask#onResolve()] running returnFn', {
            componentIdx: this.#componentIdx,
            taskID: this.#id,
            subtaskID: this.#parentSubtask.id(),
          });
          const callerTask = this.#parentSubtask.getParentTask();
          _withGlobalCurrentTaskMeta({
            taskID: callerTask.id(),
            componentIdx: callerTask.componentIdx(),
            fn: () => meta.returnFn.apply(null, [taskValue, meta.resultPtr]),
          });
          meta.returnFnCalled = true;
        }
      }
      
      if (this.#postReturnFn && taskReturned) {
        _debugLog('[AsyncTask#onResolve()] running post return ', {
          componentIdx: this.#componentIdx,
          taskID: this.#id,
        });
        try {
          _withGlobalCurrentTaskMeta({
            taskID: this.#id,
            componentIdx: this.#componentIdx,
            fn: () => this.#postReturnFn(taskValue),
          });
        } catch (err) {
          _debugLog("[AsyncTask#onResolve] error during task resolve handler", err);
          throw err;
        }
      }
      
      if (parentSubtaskPending) {
        this.#parentSubtask.onResolve(taskValue);
      }
    }
    
    registerOnResolveHandler(f) {
      this.#onResolveHandlers.push(f);
    }
    
    isRejected() { return this.#rejected; }
    
    isErrored() { return this.#errored; }
    setErrored(err) {
      // Preserve the originating trap when unwinding through
      // additional guest frames produces secondary traps (often
      // an `unreachable` after a call which was expected to trap).
      if (this.#errored === null) { this.#errored = err; }
    }
    
    reject(taskErr) {
      _debugLog('[AsyncTask#reject()] args', {
        componentIdx: this.#componentIdx,
        taskID: this.#id,
        parentSubtask: this.#parentSubtask,
        parentSubtaskID: this.#parentSubtask?.id(),
        entryFnName: this.entryFnName(),
        callbackFnName: this.#callbackFnName,
        errMsg: taskErr.message,
      });
      
      this.setErrored(taskErr);
      if (this.#rejected) { return; }
      
      // A task may call `task.return` before its callback exits.
      // A trap in cleanup or spawned work must still reject the
      // host call and poison the enclosing task chain.
      if (this.isResolvedState()) {
        this.#rejected = true;
        this.#errored = taskErr;
        const parentTask = this.#parentSubtask?.getParentTask();
        if (parentTask) { parentTask.reject(taskErr); }
        return;
      }
      
      this.#rejected = true;
      this.cancelRequested = true;
      this.#state = AsyncTask.State.CANCEL_PENDING;
      const cancelled = this.deliverPendingCancel({ cancellable: true });
      
      // TODO: do cleanup here to reset the machinery so we can run again?
      
      this.cancel({ error: taskErr });
    }
    
    resolve(results) {
      _debugLog('[AsyncTask#resolve()] args', {
        componentIdx: this.#componentIdx,
        taskID: this.#id,
        entryFnName: this.entryFnName(),
        callbackFnName: this.#callbackFnName,
      });
      
      if (this.#state === AsyncTask.State.RESOLVED) {
        throw new Error(`(component [${this.#componentIdx}]) task [${this.#id}]  is already resolved (did you forget to wait for an import?)`);
      }
      
      this.validateResourceBorrowScope();
      
      this.#state = AsyncTask.State.RESOLVED;
      
      switch (results.length) {
        case 0:
        this.onResolve(undefined);
        break;
        case 1:
        this.onResolve(results[0]);
        break;
        default:
        _debugLog('[AsyncTask#resolve()] unexpected number of results', {
          componentIdx: this.#componentIdx,
          results,
          taskID: this.#id,
          subtaskID: this.#parentSubtask?.id(),
          entryFnName: this.#entryFnName,
          callbackFnName: this.#callbackFnName,
        });
        throw new Error('unexpected number of results');
      }
    }
    
    exit(args) {
      _debugLog('[AsyncTask#exit()]', {
        componentIdx: this.#componentIdx,
        taskID: this.#id,
      });
      
      if (this.#exited)  { throw new Error("task has already exited"); }
      
      if (this.#state !== AsyncTask.State.RESOLVED) {
        throw new Error(`(component [${this.#componentIdx}]) task [${this.#id}] exited without resolution`);
      }
      
      this.validateResourceBorrowScope();
      
      const state = getOrCreateAsyncState(this.#componentIdx);
      if (!state) { throw new Error('missing async state for component [' + this.#componentIdx + ']'); }
      
      // Exempt the host from exclusive lock check
      if (this.#componentIdx !== -1 && !args?.skipExclusiveLockCheck && !this.#lockFreeEntry) {
        if (this.needsExclusiveLock() && !state.exclusivelyLockedBy(this.#id)) {
          throw new Error(`task [${this.#id}] exit: component [${this.#componentIdx}] should have been exclusively locked by it`);
        }
      }
      
      // Ownership-checked: releases only this task's own hold (a
      // task exiting while another task's slice holds the lock no
      // longer clears the foreign hold).
      state.exclusiveRelease(this.#id);
      this.notifyProgress();
      
      for (const f of this.#onExitHandlers) {
        try {
          f();
        } catch (err) {
          console.error("error during task exit handler", err);
          throw err;
        }
      }
      
      this.#exited = true;
      clearCurrentTask(this.#componentIdx, this.id());
    }
    
    needsExclusiveLock() {
      // Host (-1) tasks model host-side import handling: there is no
      // guest linear memory or executor state to protect, and host
      // calls from unrelated guest components would contend spuriously.
      if (this.#componentIdx === -1) { return false; }
      // Import-handler tasks (CallInterface) run host code nested
      // inside the calling guest slice, which already holds the
      // lock; only tasks that execute guest slices need it.
      if (!this.#callingWasmExport) { return false; }
      // A sync-lifted callee cannot be reentered until the whole
      // stackful call returns. This is the Component Model's
      // automatic-backpressure rule for async-lowered calls.
      return !this.#isAsync || this.hasCallback() || this.#calleeIsAsync === false;
    }
    
    createSubtask(args) {
      _debugLog('[AsyncTask#createSubtask()] args', args);
      const { componentIdx, childTask, callMetadata, fnName, isAsync, isManualAsync } = args;
      
      const cstate = getOrCreateAsyncState(this.#componentIdx);
      if (!cstate) {
        throw new Error(`invalid/missing async state for component idx [${componentIdx}]`);
      }
      
      const waitable = new Waitable({
        componentIdx: this.#componentIdx,
        target: `subtask (internal ID [${this.#id}])`,
      });
      
      const newSubtask = new AsyncSubtask({
        componentIdx,
        childTask,
        parentTask: this,
        callMetadata,
        isAsync,
        isManualAsync,
        fnName,
        waitable,
      });
      this.#subtasks.push(newSubtask);
      newSubtask.setTarget(`subtask (internal ID [${newSubtask.id()}], waitable [${waitable.idx()}], component [${componentIdx}])`);
      waitable.setIdx(cstate.handles.insert(newSubtask));
      waitable.setTarget(`waitable for subtask (waitable id [${waitable.idx()}], subtask internal ID [${newSubtask.id()}])`);
      return newSubtask;
    }
    
    getLatestSubtask() {
      return this.#subtasks.at(-1);
    }
    
    getSubtaskByWaitableRep(rep) {
      if (rep === undefined) { throw new TypeError('missing rep'); }
      return this.#subtasks.find(s => s.waitableRep() === rep);
    }
    
    currentSubtask() {
      _debugLog('[AsyncTask#currentSubtask()]');
      if (this.#subtasks.length === 0) { return undefined; }
      return this.#subtasks.at(-1);
    }
    
    removeSubtask(subtask) {
      if (this.#subtasks.length === 0) {
        throw new Error('cannot end current subtask: no current subtask');
      }
      this.#subtasks = this.#subtasks.filter(t => t !== subtask);
      return subtask;
    }
  }
  
  function createNewCurrentTask(args) {
    _debugLog('[createNewCurrentTask()] args', args);
    const {
      componentIdx,
      isAsync,
      isManualAsync,
      preserveFutureResult,
      entryFnName,
      parentSubtaskID,
      callbackFnName,
      getCallbackFn,
      getParamsFn,
      stringEncoding,
      errHandling,
      getCalleeParamsFn,
      resultPtr,
      callingWasmExport,
    } = args;
    if (componentIdx === undefined || componentIdx === null) {
      throw new Error('missing/invalid component instance index while starting task');
    }
    let taskMetas = ASYNC_TASKS_BY_COMPONENT_IDX.get(componentIdx);
    const callbackFn = getCallbackFn ? getCallbackFn() : null;
    
    const newTask = new AsyncTask({
      componentIdx,
      isAsync,
      isManualAsync,
      preserveFutureResult,
      entryFnName,
      callbackFn,
      callbackFnName,
      stringEncoding,
      getCalleeParamsFn,
      resultPtr,
      errHandling,
      callingWasmExport,
    });
    
    const newTaskID = newTask.id();
    const newTaskMeta = { id: newTaskID, componentIdx, task: newTask };
    
    // NOTE: do not track host tasks
    ASYNC_CURRENT_TASK_IDS.push(newTaskID);
    ASYNC_CURRENT_COMPONENT_IDXS.push(componentIdx);
    
    if (!taskMetas) {
      taskMetas = [newTaskMeta];
      ASYNC_TASKS_BY_COMPONENT_IDX.set(componentIdx, [newTaskMeta]);
    } else {
      taskMetas.push(newTaskMeta);
    }
    
    return [newTask, newTaskID];
  }
  
  const CURRENT_TASK_MAY_BLOCK= globalThis.WebAssembly ? new globalThis.WebAssembly.Global({ value: 'i32', mutable: true }, 0) : false;
  
  
  function clampGuest(i, min, max) {
    if (i < min || i > max) {
      throw new TypeError(`must be between ${min} and ${max}`);
    }
    return i;
  }
  
  
  class ComponentError extends Error {
    constructor (value) {
      const enumerable = typeof value !== 'string';
      super(enumerable ? `${String(value)} (see error.payload)` : value);
      Object.defineProperty(this, 'payload', { value, enumerable });
    }
  }
  
  function throwInvalidBool() {
    throw new TypeError('invalid variant discriminant for bool');
  }
  
  
  const module0 = getCoreModule('backstop.core.wasm');
  
  let gen= (function* _initGenerator () {
    let exports0;
    let memory0;
    let realloc0;
    let realloc0Async;
    let postReturn0;
    let postReturn0Async;
    let postReturn1;
    let postReturn1Async;
    let postReturn2;
    let postReturn2Async;
    let postReturn3;
    let postReturn3Async;
    let postReturn4;
    let postReturn4Async;
    let postReturn5;
    let postReturn5Async;
    let postReturn6;
    let postReturn6Async;
    let postReturn7;
    let postReturn7Async;
    let postReturn8;
    let postReturn8Async;
    let postReturn9;
    let postReturn9Async;
    let postReturn10;
    let postReturn10Async;
    let postReturn11;
    let postReturn11Async;
    let classifier010LoadPolicy;
    
    function loadPolicy(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'classifier010LoadPolicy',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            
            var encodeRes = _utf8AllocateAndEncode(arg0, realloc0, memory0);
            var ptr0= encodeRes.ptr;
            var len0 = encodeRes.len;
            
            var val1 = arg1;
            let enum1;
            switch (val1) {
              case 'toml': {
                enum1 = 0;
                break;
              }
              case 'json': {
                enum1 = 1;
                break;
              }
              default: {
                if ((arg1) instanceof Error) {
                  console.error(arg1);
                }
                
                throw new TypeError(`"${val1}" is not one of the cases of policy-format`);
              }
            }
            _debugLog('[iface="backstop:policy/classifier@0.1.0", function="load-policy"][Instruction::CallWasm] enter', {
              funcName: 'load-policy',
              paramCount: 3,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => classifier010LoadPolicy(ptr0, len0, enum1),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant7;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                variant7= {
                  tag: 'ok',
                  val: dataView(memory0).getInt32(ret + 4, true) >>> 0
                };
                break;
              }
              case 1: {
                var len6 = dataView(memory0).getUint32(ret + 8, true);
                var base6 = dataView(memory0).getUint32(ret + 4, true);
                if (base6 % 4 !== 0) throw new TypeError(`list pointer [${base6}] is not aligned to 4`);
                var result6 = [];
                for (let i = 0; i < len6; i++) {
                  const base = base6 + i * 32;
                  let enum2;
                  switch (dataView(memory0).getUint8(base + 0, true)) {
                    case 0: {
                      enum2 = 'syntax';
                      break;
                    }
                    case 1: {
                      enum2 = 'unknown-field';
                      break;
                    }
                    case 2: {
                      enum2 = 'missing-field';
                      break;
                    }
                    case 3: {
                      enum2 = 'wrong-type';
                      break;
                    }
                    case 4: {
                      enum2 = 'invalid-value';
                      break;
                    }
                    case 5: {
                      enum2 = 'out-of-range';
                      break;
                    }
                    case 6: {
                      enum2 = 'duplicate-id';
                      break;
                    }
                    case 7: {
                      enum2 = 'invalid-regex';
                      break;
                    }
                    case 8: {
                      enum2 = 'too-large';
                      break;
                    }
                    case 9: {
                      enum2 = 'unknown-policy';
                      break;
                    }
                    case 10: {
                      enum2 = 'invalid-failure';
                      break;
                    }
                    case 11: {
                      enum2 = 'invalid-state';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for ErrorCode');
                    }
                  }
                  var ptr3 = dataView(memory0).getUint32(base + 4, true);
                  var len3 = dataView(memory0).getUint32(base + 8, true);
                  var result3 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr3, len3));
                  var ptr4 = dataView(memory0).getUint32(base + 12, true);
                  var len4 = dataView(memory0).getUint32(base + 16, true);
                  var result4 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr4, len4));
                  let variant5;
                  switch (dataView(memory0).getUint8(base + 20, true)) {
                    case 0: {
                      variant5 = undefined;
                      break;
                    }
                    case 1: {
                      variant5 = {
                        line: dataView(memory0).getInt32(base + 24, true) >>> 0,
                        column: dataView(memory0).getInt32(base + 28, true) >>> 0,
                      };
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  result6.push({
                    code: enum2,
                    message: result3,
                    path: result4,
                    location: variant5,
                  });
                }
                variant7= {
                  tag: 'err',
                  val: result6
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/classifier@0.1.0", function="load-policy"][Instruction::Return]', {
              funcName: 'load-policy',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant7;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn0(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let classifier010DropPolicy;
    
    function dropPolicy(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'classifier010DropPolicy',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'none',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (null!== null) {
        task.setReturnMemoryIdx(null);
        task.setReturnMemory((() => null)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            _debugLog('[iface="backstop:policy/classifier@0.1.0", function="drop-policy"][Instruction::CallWasm] enter', {
              funcName: 'drop-policy',
              paramCount: 1,
              async: false,
              postReturn: false,
            });
            
            let ret;
            
            try {
              _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => classifier010DropPolicy(toUint32(arg0)),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            _debugLog('[iface="backstop:policy/classifier@0.1.0", function="drop-policy"][Instruction::Return]', {
              funcName: 'drop-policy',
              paramCount: 0,
              async: false,
              postReturn: false
            });
            task.resolve([ret]);
            task.exit();
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let classifier010Classify;
    
    function classify(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'classifier010Classify',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 80);
            dataView(memory0).setInt32(ptr0 + 0, toUint32(arg0), true);
            var {httpStatus: v1_0, grpcCode: v1_1, exitCode: v1_2, signal: v1_3, errorTypes: v1_4, errorBases: v1_5, errorCode: v1_6, message: v1_7 } = arg1;
            var variant2 = v1_0;
            if (variant2 === null || variant2=== undefined) {
              dataView(memory0).setInt8(ptr0 + 4, 0, true);
            } else {
              const e = variant2;
              dataView(memory0).setInt8(ptr0 + 4, 1, true);
              dataView(memory0).setInt16(ptr0 + 6, toUint16(e), true);
            }
            var variant4 = v1_1;
            if (variant4 === null || variant4=== undefined) {
              dataView(memory0).setInt8(ptr0 + 8, 0, true);
            } else {
              const e = variant4;
              dataView(memory0).setInt8(ptr0 + 8, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr3= encodeRes.ptr;
              var len3 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 16, len3, true);
              dataView(memory0).setUint32(ptr0 + 12, ptr3, true);
            }
            var variant5 = v1_2;
            if (variant5 === null || variant5=== undefined) {
              dataView(memory0).setInt8(ptr0 + 20, 0, true);
            } else {
              const e = variant5;
              dataView(memory0).setInt8(ptr0 + 20, 1, true);
              dataView(memory0).setInt32(ptr0 + 24, toInt32(e), true);
            }
            var variant7 = v1_3;
            if (variant7 === null || variant7=== undefined) {
              dataView(memory0).setInt8(ptr0 + 28, 0, true);
            } else {
              const e = variant7;
              dataView(memory0).setInt8(ptr0 + 28, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr6= encodeRes.ptr;
              var len6 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 36, len6, true);
              dataView(memory0).setUint32(ptr0 + 32, ptr6, true);
            }
            var vec9 = v1_4;
            var len9 = vec9.length;
            var result9 = realloc0(0, 0, 4, len9 * 8);
            for (let i = 0; i < vec9.length; i++) {
              const e = vec9[i];
              const base = result9 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr8= encodeRes.ptr;
              var len8 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len8, true);
              dataView(memory0).setUint32(base + 0, ptr8, true);
            }
            dataView(memory0).setUint32(ptr0 + 44, len9, true);
            dataView(memory0).setUint32(ptr0 + 40, result9, true);
            var vec11 = v1_5;
            var len11 = vec11.length;
            var result11 = realloc0(0, 0, 4, len11 * 8);
            for (let i = 0; i < vec11.length; i++) {
              const e = vec11[i];
              const base = result11 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr10= encodeRes.ptr;
              var len10 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len10, true);
              dataView(memory0).setUint32(base + 0, ptr10, true);
            }
            dataView(memory0).setUint32(ptr0 + 52, len11, true);
            dataView(memory0).setUint32(ptr0 + 48, result11, true);
            var variant13 = v1_6;
            if (variant13 === null || variant13=== undefined) {
              dataView(memory0).setInt8(ptr0 + 56, 0, true);
            } else {
              const e = variant13;
              dataView(memory0).setInt8(ptr0 + 56, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr12= encodeRes.ptr;
              var len12 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 64, len12, true);
              dataView(memory0).setUint32(ptr0 + 60, ptr12, true);
            }
            var variant15 = v1_7;
            if (variant15 === null || variant15=== undefined) {
              dataView(memory0).setInt8(ptr0 + 68, 0, true);
            } else {
              const e = variant15;
              dataView(memory0).setInt8(ptr0 + 68, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr14= encodeRes.ptr;
              var len14 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 76, len14, true);
              dataView(memory0).setUint32(ptr0 + 72, ptr14, true);
            }
            _debugLog('[iface="backstop:policy/classifier@0.1.0", function="classify"][Instruction::CallWasm] enter', {
              funcName: 'classify',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => classifier010Classify(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant24;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                let enum16;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum16 = 'transient';
                    break;
                  }
                  case 1: {
                    enum16 = 'permanent';
                    break;
                  }
                  case 2: {
                    enum16 = 'unknown';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for FailureClass');
                  }
                }
                let variant18;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    variant18 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr17 = dataView(memory0).getUint32(ret + 12, true);
                    var len17 = dataView(memory0).getUint32(ret + 16, true);
                    var result17 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr17, len17));
                    variant18 = result17;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                var ptr19 = dataView(memory0).getUint32(ret + 20, true);
                var len19 = dataView(memory0).getUint32(ret + 24, true);
                var result19 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr19, len19));
                variant24= {
                  tag: 'ok',
                  val: {
                    class: enum16,
                    rule: variant18,
                    reason: result19,
                  }
                };
                break;
              }
              case 1: {
                let enum20;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum20 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum20 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum20 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum20 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum20 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum20 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum20 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum20 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum20 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum20 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum20 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum20 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr21 = dataView(memory0).getUint32(ret + 8, true);
                var len21 = dataView(memory0).getUint32(ret + 12, true);
                var result21 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr21, len21));
                var ptr22 = dataView(memory0).getUint32(ret + 16, true);
                var len22 = dataView(memory0).getUint32(ret + 20, true);
                var result22 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr22, len22));
                let variant23;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant23 = undefined;
                    break;
                  }
                  case 1: {
                    variant23 = {
                      line: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant24= {
                  tag: 'err',
                  val: {
                    code: enum20,
                    message: result21,
                    path: result22,
                    location: variant23,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/classifier@0.1.0", function="classify"][Instruction::Return]', {
              funcName: 'classify',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant24;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn1(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010BeginAttempt;
    
    function beginAttempt(arg0, arg1, arg2, arg3) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010BeginAttempt',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var {attempts: v0_0, startedAtMs: v0_1, lastDelayMs: v0_2, seed: v0_3 } = arg1;
            var variant1 = v0_1;
            let variant1_0;
            let variant1_1;
            if (variant1 === null || variant1=== undefined) {
              variant1_0 = 0;
              variant1_1 = 0n;
            } else {
              const e = variant1;
              variant1_0 = 1;
              variant1_1 = toUint64(e);
            }
            var {breaker: v2_0, budget: v2_1 } = arg2;
            var {circuit: v3_0, consecutiveFailures: v3_1, recentOutcomes: v3_2, recentCount: v3_3, openedAtMs: v3_4, probesStarted: v3_5, probesSucceeded: v3_6 } = v2_0;
            var val4 = v3_0;
            let enum4;
            switch (val4) {
              case 'closed': {
                enum4 = 0;
                break;
              }
              case 'open': {
                enum4 = 1;
                break;
              }
              case 'half-open': {
                enum4 = 2;
                break;
              }
              default: {
                if ((v3_0) instanceof Error) {
                  console.error(v3_0);
                }
                
                throw new TypeError(`"${val4}" is not one of the cases of circuit`);
              }
            }
            var {spentMilli: v5_0 } = v2_1;
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="begin-attempt"][Instruction::CallWasm] enter', {
              funcName: 'begin-attempt',
              paramCount: 15,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010BeginAttempt(toUint32(arg0), toUint32(v0_0), variant1_0, variant1_1, toUint64(v0_2), toUint64(v0_3), enum4, toUint32(v3_1), toUint64(v3_2), toUint32(v3_3), toUint64(v3_4), toUint32(v3_5), toUint32(v3_6), toUint32(v5_0), toUint64(arg3)),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant16;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                let variant7;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    variant7 = undefined;
                    break;
                  }
                  case 1: {
                    let enum6;
                    switch (dataView(memory0).getUint8(ret + 9, true)) {
                      case 0: {
                        enum6 = 'permanent';
                        break;
                      }
                      case 1: {
                        enum6 = 'attempts-exhausted';
                        break;
                      }
                      case 2: {
                        enum6 = 'deadline';
                        break;
                      }
                      case 3: {
                        enum6 = 'pushback-beyond-deadline';
                        break;
                      }
                      case 4: {
                        enum6 = 'circuit-open';
                        break;
                      }
                      case 5: {
                        enum6 = 'budget-exhausted';
                        break;
                      }
                      default: {
                        throw new TypeError('invalid discriminant specified for GiveUpReason');
                      }
                    }
                    variant7 = enum6;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let variant8;
                switch (dataView(memory0).getUint8(ret + 16, true)) {
                  case 0: {
                    variant8 = undefined;
                    break;
                  }
                  case 1: {
                    variant8 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 24, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                var bool9 = dataView(memory0).getUint8(ret + 40, true);
                let variant10;
                switch (dataView(memory0).getUint8(ret + 56, true)) {
                  case 0: {
                    variant10 = undefined;
                    break;
                  }
                  case 1: {
                    variant10 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 64, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let enum11;
                switch (dataView(memory0).getUint8(ret + 88, true)) {
                  case 0: {
                    enum11 = 'closed';
                    break;
                  }
                  case 1: {
                    enum11 = 'open';
                    break;
                  }
                  case 2: {
                    enum11 = 'half-open';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for Circuit');
                  }
                }
                variant16= {
                  tag: 'ok',
                  val: {
                    refused: variant7,
                    attempt: dataView(memory0).getInt32(ret + 12, true) >>> 0,
                    timeoutMs: variant8,
                    retryAfterMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 32, true))),
                    probe: bool9 == 0 ? false : (bool9 == 1 ? true : throwInvalidBool()),
                    state: {
                      attempts: dataView(memory0).getInt32(ret + 48, true) >>> 0,
                      startedAtMs: variant10,
                      lastDelayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 72, true))),
                      seed: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 80, true))),
                    },
                    shared: {
                      breaker: {
                        circuit: enum11,
                        consecutiveFailures: dataView(memory0).getInt32(ret + 92, true) >>> 0,
                        recentOutcomes: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 96, true))),
                        recentCount: dataView(memory0).getInt32(ret + 104, true) >>> 0,
                        openedAtMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 112, true))),
                        probesStarted: dataView(memory0).getInt32(ret + 120, true) >>> 0,
                        probesSucceeded: dataView(memory0).getInt32(ret + 124, true) >>> 0,
                      },
                      budget: {
                        spentMilli: dataView(memory0).getInt32(ret + 128, true) >>> 0,
                      },
                    },
                  }
                };
                break;
              }
              case 1: {
                let enum12;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum12 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum12 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum12 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum12 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum12 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum12 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum12 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum12 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum12 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum12 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum12 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum12 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr13 = dataView(memory0).getUint32(ret + 12, true);
                var len13 = dataView(memory0).getUint32(ret + 16, true);
                var result13 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr13, len13));
                var ptr14 = dataView(memory0).getUint32(ret + 20, true);
                var len14 = dataView(memory0).getUint32(ret + 24, true);
                var result14 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr14, len14));
                let variant15;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant15 = undefined;
                    break;
                  }
                  case 1: {
                    variant15 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant16= {
                  tag: 'err',
                  val: {
                    code: enum12,
                    message: result13,
                    path: result14,
                    location: variant15,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="begin-attempt"][Instruction::Return]', {
              funcName: 'begin-attempt',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant16;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn2(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010AfterFailure;
    
    function afterFailure(arg0, arg1, arg2, arg3, arg4) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010AfterFailure',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 8, 208);
            dataView(memory0).setInt32(ptr0 + 0, toUint32(arg0), true);
            var {attempts: v1_0, startedAtMs: v1_1, lastDelayMs: v1_2, seed: v1_3 } = arg1;
            dataView(memory0).setInt32(ptr0 + 8, toUint32(v1_0), true);
            var variant2 = v1_1;
            if (variant2 === null || variant2=== undefined) {
              dataView(memory0).setInt8(ptr0 + 16, 0, true);
            } else {
              const e = variant2;
              dataView(memory0).setInt8(ptr0 + 16, 1, true);
              dataView(memory0).setBigInt64(ptr0 + 24, toUint64(e), true);
            }
            dataView(memory0).setBigInt64(ptr0 + 32, toUint64(v1_2), true);
            dataView(memory0).setBigInt64(ptr0 + 40, toUint64(v1_3), true);
            var {breaker: v3_0, budget: v3_1 } = arg2;
            var {circuit: v4_0, consecutiveFailures: v4_1, recentOutcomes: v4_2, recentCount: v4_3, openedAtMs: v4_4, probesStarted: v4_5, probesSucceeded: v4_6 } = v3_0;
            var val5 = v4_0;
            let enum5;
            switch (val5) {
              case 'closed': {
                enum5 = 0;
                break;
              }
              case 'open': {
                enum5 = 1;
                break;
              }
              case 'half-open': {
                enum5 = 2;
                break;
              }
              default: {
                if ((v4_0) instanceof Error) {
                  console.error(v4_0);
                }
                
                throw new TypeError(`"${val5}" is not one of the cases of circuit`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 48, enum5, true);
            dataView(memory0).setInt32(ptr0 + 52, toUint32(v4_1), true);
            dataView(memory0).setBigInt64(ptr0 + 56, toUint64(v4_2), true);
            dataView(memory0).setInt32(ptr0 + 64, toUint32(v4_3), true);
            dataView(memory0).setBigInt64(ptr0 + 72, toUint64(v4_4), true);
            dataView(memory0).setInt32(ptr0 + 80, toUint32(v4_5), true);
            dataView(memory0).setInt32(ptr0 + 84, toUint32(v4_6), true);
            var {spentMilli: v6_0 } = v3_1;
            dataView(memory0).setInt32(ptr0 + 88, toUint32(v6_0), true);
            var {failure: v7_0, durationMs: v7_1, pushbackMs: v7_2 } = arg3;
            var {httpStatus: v8_0, grpcCode: v8_1, exitCode: v8_2, signal: v8_3, errorTypes: v8_4, errorBases: v8_5, errorCode: v8_6, message: v8_7 } = v7_0;
            var variant9 = v8_0;
            if (variant9 === null || variant9=== undefined) {
              dataView(memory0).setInt8(ptr0 + 96, 0, true);
            } else {
              const e = variant9;
              dataView(memory0).setInt8(ptr0 + 96, 1, true);
              dataView(memory0).setInt16(ptr0 + 98, toUint16(e), true);
            }
            var variant11 = v8_1;
            if (variant11 === null || variant11=== undefined) {
              dataView(memory0).setInt8(ptr0 + 100, 0, true);
            } else {
              const e = variant11;
              dataView(memory0).setInt8(ptr0 + 100, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr10= encodeRes.ptr;
              var len10 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 108, len10, true);
              dataView(memory0).setUint32(ptr0 + 104, ptr10, true);
            }
            var variant12 = v8_2;
            if (variant12 === null || variant12=== undefined) {
              dataView(memory0).setInt8(ptr0 + 112, 0, true);
            } else {
              const e = variant12;
              dataView(memory0).setInt8(ptr0 + 112, 1, true);
              dataView(memory0).setInt32(ptr0 + 116, toInt32(e), true);
            }
            var variant14 = v8_3;
            if (variant14 === null || variant14=== undefined) {
              dataView(memory0).setInt8(ptr0 + 120, 0, true);
            } else {
              const e = variant14;
              dataView(memory0).setInt8(ptr0 + 120, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr13= encodeRes.ptr;
              var len13 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 128, len13, true);
              dataView(memory0).setUint32(ptr0 + 124, ptr13, true);
            }
            var vec16 = v8_4;
            var len16 = vec16.length;
            var result16 = realloc0(0, 0, 4, len16 * 8);
            for (let i = 0; i < vec16.length; i++) {
              const e = vec16[i];
              const base = result16 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr15= encodeRes.ptr;
              var len15 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len15, true);
              dataView(memory0).setUint32(base + 0, ptr15, true);
            }
            dataView(memory0).setUint32(ptr0 + 136, len16, true);
            dataView(memory0).setUint32(ptr0 + 132, result16, true);
            var vec18 = v8_5;
            var len18 = vec18.length;
            var result18 = realloc0(0, 0, 4, len18 * 8);
            for (let i = 0; i < vec18.length; i++) {
              const e = vec18[i];
              const base = result18 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr17= encodeRes.ptr;
              var len17 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len17, true);
              dataView(memory0).setUint32(base + 0, ptr17, true);
            }
            dataView(memory0).setUint32(ptr0 + 144, len18, true);
            dataView(memory0).setUint32(ptr0 + 140, result18, true);
            var variant20 = v8_6;
            if (variant20 === null || variant20=== undefined) {
              dataView(memory0).setInt8(ptr0 + 148, 0, true);
            } else {
              const e = variant20;
              dataView(memory0).setInt8(ptr0 + 148, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr19= encodeRes.ptr;
              var len19 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 156, len19, true);
              dataView(memory0).setUint32(ptr0 + 152, ptr19, true);
            }
            var variant22 = v8_7;
            if (variant22 === null || variant22=== undefined) {
              dataView(memory0).setInt8(ptr0 + 160, 0, true);
            } else {
              const e = variant22;
              dataView(memory0).setInt8(ptr0 + 160, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr21= encodeRes.ptr;
              var len21 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 168, len21, true);
              dataView(memory0).setUint32(ptr0 + 164, ptr21, true);
            }
            dataView(memory0).setBigInt64(ptr0 + 176, toUint64(v7_1), true);
            var variant23 = v7_2;
            if (variant23 === null || variant23=== undefined) {
              dataView(memory0).setInt8(ptr0 + 184, 0, true);
            } else {
              const e = variant23;
              dataView(memory0).setInt8(ptr0 + 184, 1, true);
              dataView(memory0).setBigInt64(ptr0 + 192, toUint64(e), true);
            }
            dataView(memory0).setBigInt64(ptr0 + 200, toUint64(arg4), true);
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="after-failure"][Instruction::CallWasm] enter', {
              funcName: 'after-failure',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010AfterFailure(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant38;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                let variant25;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    variant25 = undefined;
                    break;
                  }
                  case 1: {
                    let enum24;
                    switch (dataView(memory0).getUint8(ret + 9, true)) {
                      case 0: {
                        enum24 = 'permanent';
                        break;
                      }
                      case 1: {
                        enum24 = 'attempts-exhausted';
                        break;
                      }
                      case 2: {
                        enum24 = 'deadline';
                        break;
                      }
                      case 3: {
                        enum24 = 'pushback-beyond-deadline';
                        break;
                      }
                      case 4: {
                        enum24 = 'circuit-open';
                        break;
                      }
                      case 5: {
                        enum24 = 'budget-exhausted';
                        break;
                      }
                      default: {
                        throw new TypeError('invalid discriminant specified for GiveUpReason');
                      }
                    }
                    variant25 = enum24;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let variant26;
                switch (dataView(memory0).getUint8(ret + 32, true)) {
                  case 0: {
                    variant26 = undefined;
                    break;
                  }
                  case 1: {
                    variant26 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 40, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let enum27;
                switch (dataView(memory0).getUint8(ret + 48, true)) {
                  case 0: {
                    enum27 = 'transient';
                    break;
                  }
                  case 1: {
                    enum27 = 'permanent';
                    break;
                  }
                  case 2: {
                    enum27 = 'unknown';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for FailureClass');
                  }
                }
                let variant29;
                switch (dataView(memory0).getUint8(ret + 52, true)) {
                  case 0: {
                    variant29 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr28 = dataView(memory0).getUint32(ret + 56, true);
                    var len28 = dataView(memory0).getUint32(ret + 60, true);
                    var result28 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr28, len28));
                    variant29 = result28;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                var ptr30 = dataView(memory0).getUint32(ret + 64, true);
                var len30 = dataView(memory0).getUint32(ret + 68, true);
                var result30 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr30, len30));
                var ptr31 = dataView(memory0).getUint32(ret + 72, true);
                var len31 = dataView(memory0).getUint32(ret + 76, true);
                var result31 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr31, len31));
                let variant32;
                switch (dataView(memory0).getUint8(ret + 88, true)) {
                  case 0: {
                    variant32 = undefined;
                    break;
                  }
                  case 1: {
                    variant32 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 96, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let enum33;
                switch (dataView(memory0).getUint8(ret + 120, true)) {
                  case 0: {
                    enum33 = 'closed';
                    break;
                  }
                  case 1: {
                    enum33 = 'open';
                    break;
                  }
                  case 2: {
                    enum33 = 'half-open';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for Circuit');
                  }
                }
                variant38= {
                  tag: 'ok',
                  val: {
                    giveUp: variant25,
                    delayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 16, true))),
                    attempt: dataView(memory0).getInt32(ret + 24, true) >>> 0,
                    nextTimeoutMs: variant26,
                    classification: {
                      class: enum27,
                      rule: variant29,
                      reason: result30,
                    },
                    explanation: result31,
                    state: {
                      attempts: dataView(memory0).getInt32(ret + 80, true) >>> 0,
                      startedAtMs: variant32,
                      lastDelayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 104, true))),
                      seed: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 112, true))),
                    },
                    shared: {
                      breaker: {
                        circuit: enum33,
                        consecutiveFailures: dataView(memory0).getInt32(ret + 124, true) >>> 0,
                        recentOutcomes: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 128, true))),
                        recentCount: dataView(memory0).getInt32(ret + 136, true) >>> 0,
                        openedAtMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 144, true))),
                        probesStarted: dataView(memory0).getInt32(ret + 152, true) >>> 0,
                        probesSucceeded: dataView(memory0).getInt32(ret + 156, true) >>> 0,
                      },
                      budget: {
                        spentMilli: dataView(memory0).getInt32(ret + 160, true) >>> 0,
                      },
                    },
                  }
                };
                break;
              }
              case 1: {
                let enum34;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum34 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum34 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum34 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum34 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum34 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum34 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum34 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum34 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum34 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum34 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum34 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum34 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr35 = dataView(memory0).getUint32(ret + 12, true);
                var len35 = dataView(memory0).getUint32(ret + 16, true);
                var result35 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr35, len35));
                var ptr36 = dataView(memory0).getUint32(ret + 20, true);
                var len36 = dataView(memory0).getUint32(ret + 24, true);
                var result36 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr36, len36));
                let variant37;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant37 = undefined;
                    break;
                  }
                  case 1: {
                    variant37 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant38= {
                  tag: 'err',
                  val: {
                    code: enum34,
                    message: result35,
                    path: result36,
                    location: variant37,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="after-failure"][Instruction::Return]', {
              funcName: 'after-failure',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant38;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn3(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010PlanFailures;
    
    function planFailures(arg0, arg1, arg2, arg3, arg4, arg5) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010PlanFailures',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 8, 216);
            dataView(memory0).setInt32(ptr0 + 0, toUint32(arg0), true);
            var {attempts: v1_0, startedAtMs: v1_1, lastDelayMs: v1_2, seed: v1_3 } = arg1;
            dataView(memory0).setInt32(ptr0 + 8, toUint32(v1_0), true);
            var variant2 = v1_1;
            if (variant2 === null || variant2=== undefined) {
              dataView(memory0).setInt8(ptr0 + 16, 0, true);
            } else {
              const e = variant2;
              dataView(memory0).setInt8(ptr0 + 16, 1, true);
              dataView(memory0).setBigInt64(ptr0 + 24, toUint64(e), true);
            }
            dataView(memory0).setBigInt64(ptr0 + 32, toUint64(v1_2), true);
            dataView(memory0).setBigInt64(ptr0 + 40, toUint64(v1_3), true);
            var {breaker: v3_0, budget: v3_1 } = arg2;
            var {circuit: v4_0, consecutiveFailures: v4_1, recentOutcomes: v4_2, recentCount: v4_3, openedAtMs: v4_4, probesStarted: v4_5, probesSucceeded: v4_6 } = v3_0;
            var val5 = v4_0;
            let enum5;
            switch (val5) {
              case 'closed': {
                enum5 = 0;
                break;
              }
              case 'open': {
                enum5 = 1;
                break;
              }
              case 'half-open': {
                enum5 = 2;
                break;
              }
              default: {
                if ((v4_0) instanceof Error) {
                  console.error(v4_0);
                }
                
                throw new TypeError(`"${val5}" is not one of the cases of circuit`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 48, enum5, true);
            dataView(memory0).setInt32(ptr0 + 52, toUint32(v4_1), true);
            dataView(memory0).setBigInt64(ptr0 + 56, toUint64(v4_2), true);
            dataView(memory0).setInt32(ptr0 + 64, toUint32(v4_3), true);
            dataView(memory0).setBigInt64(ptr0 + 72, toUint64(v4_4), true);
            dataView(memory0).setInt32(ptr0 + 80, toUint32(v4_5), true);
            dataView(memory0).setInt32(ptr0 + 84, toUint32(v4_6), true);
            var {spentMilli: v6_0 } = v3_1;
            dataView(memory0).setInt32(ptr0 + 88, toUint32(v6_0), true);
            var {failure: v7_0, durationMs: v7_1, pushbackMs: v7_2 } = arg3;
            var {httpStatus: v8_0, grpcCode: v8_1, exitCode: v8_2, signal: v8_3, errorTypes: v8_4, errorBases: v8_5, errorCode: v8_6, message: v8_7 } = v7_0;
            var variant9 = v8_0;
            if (variant9 === null || variant9=== undefined) {
              dataView(memory0).setInt8(ptr0 + 96, 0, true);
            } else {
              const e = variant9;
              dataView(memory0).setInt8(ptr0 + 96, 1, true);
              dataView(memory0).setInt16(ptr0 + 98, toUint16(e), true);
            }
            var variant11 = v8_1;
            if (variant11 === null || variant11=== undefined) {
              dataView(memory0).setInt8(ptr0 + 100, 0, true);
            } else {
              const e = variant11;
              dataView(memory0).setInt8(ptr0 + 100, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr10= encodeRes.ptr;
              var len10 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 108, len10, true);
              dataView(memory0).setUint32(ptr0 + 104, ptr10, true);
            }
            var variant12 = v8_2;
            if (variant12 === null || variant12=== undefined) {
              dataView(memory0).setInt8(ptr0 + 112, 0, true);
            } else {
              const e = variant12;
              dataView(memory0).setInt8(ptr0 + 112, 1, true);
              dataView(memory0).setInt32(ptr0 + 116, toInt32(e), true);
            }
            var variant14 = v8_3;
            if (variant14 === null || variant14=== undefined) {
              dataView(memory0).setInt8(ptr0 + 120, 0, true);
            } else {
              const e = variant14;
              dataView(memory0).setInt8(ptr0 + 120, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr13= encodeRes.ptr;
              var len13 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 128, len13, true);
              dataView(memory0).setUint32(ptr0 + 124, ptr13, true);
            }
            var vec16 = v8_4;
            var len16 = vec16.length;
            var result16 = realloc0(0, 0, 4, len16 * 8);
            for (let i = 0; i < vec16.length; i++) {
              const e = vec16[i];
              const base = result16 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr15= encodeRes.ptr;
              var len15 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len15, true);
              dataView(memory0).setUint32(base + 0, ptr15, true);
            }
            dataView(memory0).setUint32(ptr0 + 136, len16, true);
            dataView(memory0).setUint32(ptr0 + 132, result16, true);
            var vec18 = v8_5;
            var len18 = vec18.length;
            var result18 = realloc0(0, 0, 4, len18 * 8);
            for (let i = 0; i < vec18.length; i++) {
              const e = vec18[i];
              const base = result18 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr17= encodeRes.ptr;
              var len17 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len17, true);
              dataView(memory0).setUint32(base + 0, ptr17, true);
            }
            dataView(memory0).setUint32(ptr0 + 144, len18, true);
            dataView(memory0).setUint32(ptr0 + 140, result18, true);
            var variant20 = v8_6;
            if (variant20 === null || variant20=== undefined) {
              dataView(memory0).setInt8(ptr0 + 148, 0, true);
            } else {
              const e = variant20;
              dataView(memory0).setInt8(ptr0 + 148, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr19= encodeRes.ptr;
              var len19 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 156, len19, true);
              dataView(memory0).setUint32(ptr0 + 152, ptr19, true);
            }
            var variant22 = v8_7;
            if (variant22 === null || variant22=== undefined) {
              dataView(memory0).setInt8(ptr0 + 160, 0, true);
            } else {
              const e = variant22;
              dataView(memory0).setInt8(ptr0 + 160, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr21= encodeRes.ptr;
              var len21 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 168, len21, true);
              dataView(memory0).setUint32(ptr0 + 164, ptr21, true);
            }
            dataView(memory0).setBigInt64(ptr0 + 176, toUint64(v7_1), true);
            var variant23 = v7_2;
            if (variant23 === null || variant23=== undefined) {
              dataView(memory0).setInt8(ptr0 + 184, 0, true);
            } else {
              const e = variant23;
              dataView(memory0).setInt8(ptr0 + 184, 1, true);
              dataView(memory0).setBigInt64(ptr0 + 192, toUint64(e), true);
            }
            dataView(memory0).setBigInt64(ptr0 + 200, toUint64(arg4), true);
            dataView(memory0).setInt32(ptr0 + 208, toUint32(arg5), true);
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="plan-failures"][Instruction::CallWasm] enter', {
              funcName: 'plan-failures',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010PlanFailures(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant46;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var len41 = dataView(memory0).getUint32(ret + 8, true);
                var base41 = dataView(memory0).getUint32(ret + 4, true);
                if (base41 % 8 !== 0) throw new TypeError(`list pointer [${base41}] is not aligned to 8`);
                var result41 = [];
                for (let i = 0; i < len41; i++) {
                  const base = base41 + i * 296;
                  let variant25;
                  switch (dataView(memory0).getUint8(base + 0, true)) {
                    case 0: {
                      variant25 = undefined;
                      break;
                    }
                    case 1: {
                      let enum24;
                      switch (dataView(memory0).getUint8(base + 1, true)) {
                        case 0: {
                          enum24 = 'permanent';
                          break;
                        }
                        case 1: {
                          enum24 = 'attempts-exhausted';
                          break;
                        }
                        case 2: {
                          enum24 = 'deadline';
                          break;
                        }
                        case 3: {
                          enum24 = 'pushback-beyond-deadline';
                          break;
                        }
                        case 4: {
                          enum24 = 'circuit-open';
                          break;
                        }
                        case 5: {
                          enum24 = 'budget-exhausted';
                          break;
                        }
                        default: {
                          throw new TypeError('invalid discriminant specified for GiveUpReason');
                        }
                      }
                      variant25 = enum24;
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  let variant26;
                  switch (dataView(memory0).getUint8(base + 24, true)) {
                    case 0: {
                      variant26 = undefined;
                      break;
                    }
                    case 1: {
                      variant26 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 32, true)));
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  let enum27;
                  switch (dataView(memory0).getUint8(base + 40, true)) {
                    case 0: {
                      enum27 = 'transient';
                      break;
                    }
                    case 1: {
                      enum27 = 'permanent';
                      break;
                    }
                    case 2: {
                      enum27 = 'unknown';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for FailureClass');
                    }
                  }
                  let variant29;
                  switch (dataView(memory0).getUint8(base + 44, true)) {
                    case 0: {
                      variant29 = undefined;
                      break;
                    }
                    case 1: {
                      var ptr28 = dataView(memory0).getUint32(base + 48, true);
                      var len28 = dataView(memory0).getUint32(base + 52, true);
                      var result28 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr28, len28));
                      variant29 = result28;
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  var ptr30 = dataView(memory0).getUint32(base + 56, true);
                  var len30 = dataView(memory0).getUint32(base + 60, true);
                  var result30 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr30, len30));
                  var ptr31 = dataView(memory0).getUint32(base + 64, true);
                  var len31 = dataView(memory0).getUint32(base + 68, true);
                  var result31 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr31, len31));
                  let variant32;
                  switch (dataView(memory0).getUint8(base + 80, true)) {
                    case 0: {
                      variant32 = undefined;
                      break;
                    }
                    case 1: {
                      variant32 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 88, true)));
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  let enum33;
                  switch (dataView(memory0).getUint8(base + 112, true)) {
                    case 0: {
                      enum33 = 'closed';
                      break;
                    }
                    case 1: {
                      enum33 = 'open';
                      break;
                    }
                    case 2: {
                      enum33 = 'half-open';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for Circuit');
                    }
                  }
                  let variant40;
                  switch (dataView(memory0).getUint8(base + 160, true)) {
                    case 0: {
                      variant40 = undefined;
                      break;
                    }
                    case 1: {
                      let variant35;
                      switch (dataView(memory0).getUint8(base + 168, true)) {
                        case 0: {
                          variant35 = undefined;
                          break;
                        }
                        case 1: {
                          let enum34;
                          switch (dataView(memory0).getUint8(base + 169, true)) {
                            case 0: {
                              enum34 = 'permanent';
                              break;
                            }
                            case 1: {
                              enum34 = 'attempts-exhausted';
                              break;
                            }
                            case 2: {
                              enum34 = 'deadline';
                              break;
                            }
                            case 3: {
                              enum34 = 'pushback-beyond-deadline';
                              break;
                            }
                            case 4: {
                              enum34 = 'circuit-open';
                              break;
                            }
                            case 5: {
                              enum34 = 'budget-exhausted';
                              break;
                            }
                            default: {
                              throw new TypeError('invalid discriminant specified for GiveUpReason');
                            }
                          }
                          variant35 = enum34;
                          break;
                        }
                        default: {
                          throw new TypeError('invalid variant discriminant for option');
                        }
                      }
                      let variant36;
                      switch (dataView(memory0).getUint8(base + 176, true)) {
                        case 0: {
                          variant36 = undefined;
                          break;
                        }
                        case 1: {
                          variant36 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 184, true)));
                          break;
                        }
                        default: {
                          throw new TypeError('invalid variant discriminant for option');
                        }
                      }
                      var bool37 = dataView(memory0).getUint8(base + 200, true);
                      let variant38;
                      switch (dataView(memory0).getUint8(base + 216, true)) {
                        case 0: {
                          variant38 = undefined;
                          break;
                        }
                        case 1: {
                          variant38 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 224, true)));
                          break;
                        }
                        default: {
                          throw new TypeError('invalid variant discriminant for option');
                        }
                      }
                      let enum39;
                      switch (dataView(memory0).getUint8(base + 248, true)) {
                        case 0: {
                          enum39 = 'closed';
                          break;
                        }
                        case 1: {
                          enum39 = 'open';
                          break;
                        }
                        case 2: {
                          enum39 = 'half-open';
                          break;
                        }
                        default: {
                          throw new TypeError('invalid discriminant specified for Circuit');
                        }
                      }
                      variant40 = {
                        refused: variant35,
                        attempt: dataView(memory0).getInt32(base + 172, true) >>> 0,
                        timeoutMs: variant36,
                        retryAfterMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 192, true))),
                        probe: bool37 == 0 ? false : (bool37 == 1 ? true : throwInvalidBool()),
                        state: {
                          attempts: dataView(memory0).getInt32(base + 208, true) >>> 0,
                          startedAtMs: variant38,
                          lastDelayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 232, true))),
                          seed: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 240, true))),
                        },
                        shared: {
                          breaker: {
                            circuit: enum39,
                            consecutiveFailures: dataView(memory0).getInt32(base + 252, true) >>> 0,
                            recentOutcomes: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 256, true))),
                            recentCount: dataView(memory0).getInt32(base + 264, true) >>> 0,
                            openedAtMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 272, true))),
                            probesStarted: dataView(memory0).getInt32(base + 280, true) >>> 0,
                            probesSucceeded: dataView(memory0).getInt32(base + 284, true) >>> 0,
                          },
                          budget: {
                            spentMilli: dataView(memory0).getInt32(base + 288, true) >>> 0,
                          },
                        },
                      };
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  result41.push({
                    decision: {
                      giveUp: variant25,
                      delayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 8, true))),
                      attempt: dataView(memory0).getInt32(base + 16, true) >>> 0,
                      nextTimeoutMs: variant26,
                      classification: {
                        class: enum27,
                        rule: variant29,
                        reason: result30,
                      },
                      explanation: result31,
                      state: {
                        attempts: dataView(memory0).getInt32(base + 72, true) >>> 0,
                        startedAtMs: variant32,
                        lastDelayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 96, true))),
                        seed: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 104, true))),
                      },
                      shared: {
                        breaker: {
                          circuit: enum33,
                          consecutiveFailures: dataView(memory0).getInt32(base + 116, true) >>> 0,
                          recentOutcomes: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 120, true))),
                          recentCount: dataView(memory0).getInt32(base + 128, true) >>> 0,
                          openedAtMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 136, true))),
                          probesStarted: dataView(memory0).getInt32(base + 144, true) >>> 0,
                          probesSucceeded: dataView(memory0).getInt32(base + 148, true) >>> 0,
                        },
                        budget: {
                          spentMilli: dataView(memory0).getInt32(base + 152, true) >>> 0,
                        },
                      },
                    },
                    nextPermit: variant40,
                  });
                }
                variant46= {
                  tag: 'ok',
                  val: result41
                };
                break;
              }
              case 1: {
                let enum42;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum42 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum42 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum42 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum42 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum42 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum42 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum42 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum42 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum42 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum42 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum42 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum42 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr43 = dataView(memory0).getUint32(ret + 8, true);
                var len43 = dataView(memory0).getUint32(ret + 12, true);
                var result43 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr43, len43));
                var ptr44 = dataView(memory0).getUint32(ret + 16, true);
                var len44 = dataView(memory0).getUint32(ret + 20, true);
                var result44 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr44, len44));
                let variant45;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant45 = undefined;
                    break;
                  }
                  case 1: {
                    variant45 = {
                      line: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant46= {
                  tag: 'err',
                  val: {
                    code: enum42,
                    message: result43,
                    path: result44,
                    location: variant45,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="plan-failures"][Instruction::Return]', {
              funcName: 'plan-failures',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant46;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn4(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010AfterSuccess;
    
    function afterSuccess(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010AfterSuccess',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var {breaker: v0_0, budget: v0_1 } = arg1;
            var {circuit: v1_0, consecutiveFailures: v1_1, recentOutcomes: v1_2, recentCount: v1_3, openedAtMs: v1_4, probesStarted: v1_5, probesSucceeded: v1_6 } = v0_0;
            var val2 = v1_0;
            let enum2;
            switch (val2) {
              case 'closed': {
                enum2 = 0;
                break;
              }
              case 'open': {
                enum2 = 1;
                break;
              }
              case 'half-open': {
                enum2 = 2;
                break;
              }
              default: {
                if ((v1_0) instanceof Error) {
                  console.error(v1_0);
                }
                
                throw new TypeError(`"${val2}" is not one of the cases of circuit`);
              }
            }
            var {spentMilli: v3_0 } = v0_1;
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="after-success"][Instruction::CallWasm] enter', {
              funcName: 'after-success',
              paramCount: 9,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010AfterSuccess(toUint32(arg0), enum2, toUint32(v1_1), toUint64(v1_2), toUint32(v1_3), toUint64(v1_4), toUint32(v1_5), toUint32(v1_6), toUint32(v3_0)),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant9;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                let enum4;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum4 = 'closed';
                    break;
                  }
                  case 1: {
                    enum4 = 'open';
                    break;
                  }
                  case 2: {
                    enum4 = 'half-open';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for Circuit');
                  }
                }
                variant9= {
                  tag: 'ok',
                  val: {
                    breaker: {
                      circuit: enum4,
                      consecutiveFailures: dataView(memory0).getInt32(ret + 12, true) >>> 0,
                      recentOutcomes: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 16, true))),
                      recentCount: dataView(memory0).getInt32(ret + 24, true) >>> 0,
                      openedAtMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 32, true))),
                      probesStarted: dataView(memory0).getInt32(ret + 40, true) >>> 0,
                      probesSucceeded: dataView(memory0).getInt32(ret + 44, true) >>> 0,
                    },
                    budget: {
                      spentMilli: dataView(memory0).getInt32(ret + 48, true) >>> 0,
                    },
                  }
                };
                break;
              }
              case 1: {
                let enum5;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum5 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum5 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum5 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum5 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum5 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum5 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum5 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum5 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum5 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum5 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum5 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum5 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr6 = dataView(memory0).getUint32(ret + 12, true);
                var len6 = dataView(memory0).getUint32(ret + 16, true);
                var result6 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr6, len6));
                var ptr7 = dataView(memory0).getUint32(ret + 20, true);
                var len7 = dataView(memory0).getUint32(ret + 24, true);
                var result7 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr7, len7));
                let variant8;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant8 = undefined;
                    break;
                  }
                  case 1: {
                    variant8 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant9= {
                  tag: 'err',
                  val: {
                    code: enum5,
                    message: result6,
                    path: result7,
                    location: variant8,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="after-success"][Instruction::Return]', {
              funcName: 'after-success',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant9;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn2(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010FastPathFor;
    
    function fastPathFor(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010FastPathFor',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var {breaker: v0_0, budget: v0_1 } = arg1;
            var {circuit: v1_0, consecutiveFailures: v1_1, recentOutcomes: v1_2, recentCount: v1_3, openedAtMs: v1_4, probesStarted: v1_5, probesSucceeded: v1_6 } = v0_0;
            var val2 = v1_0;
            let enum2;
            switch (val2) {
              case 'closed': {
                enum2 = 0;
                break;
              }
              case 'open': {
                enum2 = 1;
                break;
              }
              case 'half-open': {
                enum2 = 2;
                break;
              }
              default: {
                if ((v1_0) instanceof Error) {
                  console.error(v1_0);
                }
                
                throw new TypeError(`"${val2}" is not one of the cases of circuit`);
              }
            }
            var {spentMilli: v3_0 } = v0_1;
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="fast-path-for"][Instruction::CallWasm] enter', {
              funcName: 'fast-path-for',
              paramCount: 9,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010FastPathFor(toUint32(arg0), enum2, toUint32(v1_1), toUint64(v1_2), toUint32(v1_3), toUint64(v1_4), toUint32(v1_5), toUint32(v1_6), toUint32(v3_0)),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant16;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var bool4 = dataView(memory0).getUint8(ret + 8, true);
                let variant11;
                switch (dataView(memory0).getUint8(ret + 16, true)) {
                  case 0: {
                    variant11 = undefined;
                    break;
                  }
                  case 1: {
                    let variant6;
                    switch (dataView(memory0).getUint8(ret + 24, true)) {
                      case 0: {
                        variant6 = undefined;
                        break;
                      }
                      case 1: {
                        let enum5;
                        switch (dataView(memory0).getUint8(ret + 25, true)) {
                          case 0: {
                            enum5 = 'permanent';
                            break;
                          }
                          case 1: {
                            enum5 = 'attempts-exhausted';
                            break;
                          }
                          case 2: {
                            enum5 = 'deadline';
                            break;
                          }
                          case 3: {
                            enum5 = 'pushback-beyond-deadline';
                            break;
                          }
                          case 4: {
                            enum5 = 'circuit-open';
                            break;
                          }
                          case 5: {
                            enum5 = 'budget-exhausted';
                            break;
                          }
                          default: {
                            throw new TypeError('invalid discriminant specified for GiveUpReason');
                          }
                        }
                        variant6 = enum5;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    let variant7;
                    switch (dataView(memory0).getUint8(ret + 32, true)) {
                      case 0: {
                        variant7 = undefined;
                        break;
                      }
                      case 1: {
                        variant7 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 40, true)));
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    var bool8 = dataView(memory0).getUint8(ret + 56, true);
                    let variant9;
                    switch (dataView(memory0).getUint8(ret + 72, true)) {
                      case 0: {
                        variant9 = undefined;
                        break;
                      }
                      case 1: {
                        variant9 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 80, true)));
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    let enum10;
                    switch (dataView(memory0).getUint8(ret + 104, true)) {
                      case 0: {
                        enum10 = 'closed';
                        break;
                      }
                      case 1: {
                        enum10 = 'open';
                        break;
                      }
                      case 2: {
                        enum10 = 'half-open';
                        break;
                      }
                      default: {
                        throw new TypeError('invalid discriminant specified for Circuit');
                      }
                    }
                    variant11 = {
                      refused: variant6,
                      attempt: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      timeoutMs: variant7,
                      retryAfterMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 48, true))),
                      probe: bool8 == 0 ? false : (bool8 == 1 ? true : throwInvalidBool()),
                      state: {
                        attempts: dataView(memory0).getInt32(ret + 64, true) >>> 0,
                        startedAtMs: variant9,
                        lastDelayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 88, true))),
                        seed: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 96, true))),
                      },
                      shared: {
                        breaker: {
                          circuit: enum10,
                          consecutiveFailures: dataView(memory0).getInt32(ret + 108, true) >>> 0,
                          recentOutcomes: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 112, true))),
                          recentCount: dataView(memory0).getInt32(ret + 120, true) >>> 0,
                          openedAtMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 128, true))),
                          probesStarted: dataView(memory0).getInt32(ret + 136, true) >>> 0,
                          probesSucceeded: dataView(memory0).getInt32(ret + 140, true) >>> 0,
                        },
                        budget: {
                          spentMilli: dataView(memory0).getInt32(ret + 144, true) >>> 0,
                        },
                      },
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant16= {
                  tag: 'ok',
                  val: {
                    successRecordsNothing: bool4 == 0 ? false : (bool4 == 1 ? true : throwInvalidBool()),
                    freshPermit: variant11,
                  }
                };
                break;
              }
              case 1: {
                let enum12;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum12 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum12 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum12 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum12 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum12 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum12 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum12 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum12 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum12 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum12 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum12 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum12 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr13 = dataView(memory0).getUint32(ret + 12, true);
                var len13 = dataView(memory0).getUint32(ret + 16, true);
                var result13 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr13, len13));
                var ptr14 = dataView(memory0).getUint32(ret + 20, true);
                var len14 = dataView(memory0).getUint32(ret + 24, true);
                var result14 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr14, len14));
                let variant15;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant15 = undefined;
                    break;
                  }
                  case 1: {
                    variant15 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant16= {
                  tag: 'err',
                  val: {
                    code: enum12,
                    message: result13,
                    path: result14,
                    location: variant15,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="fast-path-for"][Instruction::Return]', {
              funcName: 'fast-path-for',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant16;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn2(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010PlanSchedule;
    
    function planSchedule(arg0, arg1, arg2) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010PlanSchedule',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="plan-schedule"][Instruction::CallWasm] enter', {
              funcName: 'plan-schedule',
              paramCount: 3,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010PlanSchedule(toUint32(arg0), toUint64(arg1), toUint32(arg2)),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant8;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var len1 = dataView(memory0).getUint32(ret + 8, true);
                var base1 = dataView(memory0).getUint32(ret + 4, true);
                if (base1 % 8 !== 0) throw new TypeError(`list pointer [${base1}] is not aligned to 8`);
                var result1 = [];
                for (let i = 0; i < len1; i++) {
                  const base = base1 + i * 40;
                  let variant0;
                  switch (dataView(memory0).getUint8(base + 16, true)) {
                    case 0: {
                      variant0 = undefined;
                      break;
                    }
                    case 1: {
                      variant0 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 24, true)));
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  result1.push({
                    attempt: dataView(memory0).getInt32(base + 0, true) >>> 0,
                    delayMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 8, true))),
                    timeoutMs: variant0,
                    startMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 32, true))),
                  });
                }
                let variant3;
                switch (dataView(memory0).getUint8(ret + 12, true)) {
                  case 0: {
                    variant3 = undefined;
                    break;
                  }
                  case 1: {
                    let enum2;
                    switch (dataView(memory0).getUint8(ret + 13, true)) {
                      case 0: {
                        enum2 = 'permanent';
                        break;
                      }
                      case 1: {
                        enum2 = 'attempts-exhausted';
                        break;
                      }
                      case 2: {
                        enum2 = 'deadline';
                        break;
                      }
                      case 3: {
                        enum2 = 'pushback-beyond-deadline';
                        break;
                      }
                      case 4: {
                        enum2 = 'circuit-open';
                        break;
                      }
                      case 5: {
                        enum2 = 'budget-exhausted';
                        break;
                      }
                      default: {
                        throw new TypeError('invalid discriminant specified for GiveUpReason');
                      }
                    }
                    variant3 = enum2;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant8= {
                  tag: 'ok',
                  val: {
                    attempts: result1,
                    endsWith: variant3,
                  }
                };
                break;
              }
              case 1: {
                let enum4;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum4 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum4 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum4 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum4 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum4 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum4 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum4 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum4 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum4 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum4 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum4 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum4 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr5 = dataView(memory0).getUint32(ret + 8, true);
                var len5 = dataView(memory0).getUint32(ret + 12, true);
                var result5 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr5, len5));
                var ptr6 = dataView(memory0).getUint32(ret + 16, true);
                var len6 = dataView(memory0).getUint32(ret + 20, true);
                var result6 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr6, len6));
                let variant7;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant7 = undefined;
                    break;
                  }
                  case 1: {
                    variant7 = {
                      line: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant8= {
                  tag: 'err',
                  val: {
                    code: enum4,
                    message: result5,
                    path: result6,
                    location: variant7,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="plan-schedule"][Instruction::Return]', {
              funcName: 'plan-schedule',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant8;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn5(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let retry010DeriveSeed;
    
    function deriveSeed(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'retry010DeriveSeed',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'none',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            
            var encodeRes = _utf8AllocateAndEncode(arg0, realloc0, memory0);
            var ptr0= encodeRes.ptr;
            var len0 = encodeRes.len;
            
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="derive-seed"][Instruction::CallWasm] enter', {
              funcName: 'derive-seed',
              paramCount: 2,
              async: false,
              postReturn: false,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => retry010DeriveSeed(ptr0, len0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            _debugLog('[iface="backstop:policy/retry@0.1.0", function="derive-seed"][Instruction::Return]', {
              funcName: 'derive-seed',
              paramCount: 1,
              async: false,
              postReturn: false
            });
            task.resolve([BigInt.asUintN(64, BigInt(ret))]);
            task.exit();
            return BigInt.asUintN(64, BigInt(ret));
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let alerts010Evaluate;
    
    function evaluate(arg0, arg1, arg2, arg3) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'alerts010Evaluate',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 8, 168);
            dataView(memory0).setInt32(ptr0 + 0, toUint32(arg0), true);
            
            var encodeRes = _utf8AllocateAndEncode(arg1, realloc0, memory0);
            var ptr1= encodeRes.ptr;
            var len1 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 8, len1, true);
            dataView(memory0).setUint32(ptr0 + 4, ptr1, true);
            var {kind: v2_0, pipeline: v2_1, step: v2_2, runId: v2_3, failure: v2_4, attempt: v2_5, lateMinutes: v2_6, labels: v2_7, logLines: v2_8, dedupKey: v2_9 } = arg2;
            var val3 = v2_0;
            let enum3;
            switch (val3) {
              case 'attempt-failed': {
                enum3 = 0;
                break;
              }
              case 'run-failed': {
                enum3 = 1;
                break;
              }
              case 'run-succeeded': {
                enum3 = 2;
                break;
              }
              case 'run-late': {
                enum3 = 3;
                break;
              }
              case 'alert-acknowledged': {
                enum3 = 4;
                break;
              }
              case 'tick': {
                enum3 = 5;
                break;
              }
              default: {
                if ((v2_0) instanceof Error) {
                  console.error(v2_0);
                }
                
                throw new TypeError(`"${val3}" is not one of the cases of event-kind`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 12, enum3, true);
            
            var encodeRes = _utf8AllocateAndEncode(v2_1, realloc0, memory0);
            var ptr4= encodeRes.ptr;
            var len4 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 20, len4, true);
            dataView(memory0).setUint32(ptr0 + 16, ptr4, true);
            
            var encodeRes = _utf8AllocateAndEncode(v2_2, realloc0, memory0);
            var ptr5= encodeRes.ptr;
            var len5 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 28, len5, true);
            dataView(memory0).setUint32(ptr0 + 24, ptr5, true);
            
            var encodeRes = _utf8AllocateAndEncode(v2_3, realloc0, memory0);
            var ptr6= encodeRes.ptr;
            var len6 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 36, len6, true);
            dataView(memory0).setUint32(ptr0 + 32, ptr6, true);
            var variant22 = v2_4;
            if (variant22 === null || variant22=== undefined) {
              dataView(memory0).setInt8(ptr0 + 40, 0, true);
            } else {
              const e = variant22;
              dataView(memory0).setInt8(ptr0 + 40, 1, true);
              var {httpStatus: v7_0, grpcCode: v7_1, exitCode: v7_2, signal: v7_3, errorTypes: v7_4, errorBases: v7_5, errorCode: v7_6, message: v7_7 } = e;
              var variant8 = v7_0;
              if (variant8 === null || variant8=== undefined) {
                dataView(memory0).setInt8(ptr0 + 44, 0, true);
              } else {
                const e = variant8;
                dataView(memory0).setInt8(ptr0 + 44, 1, true);
                dataView(memory0).setInt16(ptr0 + 46, toUint16(e), true);
              }
              var variant10 = v7_1;
              if (variant10 === null || variant10=== undefined) {
                dataView(memory0).setInt8(ptr0 + 48, 0, true);
              } else {
                const e = variant10;
                dataView(memory0).setInt8(ptr0 + 48, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr9= encodeRes.ptr;
                var len9 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 56, len9, true);
                dataView(memory0).setUint32(ptr0 + 52, ptr9, true);
              }
              var variant11 = v7_2;
              if (variant11 === null || variant11=== undefined) {
                dataView(memory0).setInt8(ptr0 + 60, 0, true);
              } else {
                const e = variant11;
                dataView(memory0).setInt8(ptr0 + 60, 1, true);
                dataView(memory0).setInt32(ptr0 + 64, toInt32(e), true);
              }
              var variant13 = v7_3;
              if (variant13 === null || variant13=== undefined) {
                dataView(memory0).setInt8(ptr0 + 68, 0, true);
              } else {
                const e = variant13;
                dataView(memory0).setInt8(ptr0 + 68, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr12= encodeRes.ptr;
                var len12 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 76, len12, true);
                dataView(memory0).setUint32(ptr0 + 72, ptr12, true);
              }
              var vec15 = v7_4;
              var len15 = vec15.length;
              var result15 = realloc0(0, 0, 4, len15 * 8);
              for (let i = 0; i < vec15.length; i++) {
                const e = vec15[i];
                const base = result15 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr14= encodeRes.ptr;
                var len14 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len14, true);
                dataView(memory0).setUint32(base + 0, ptr14, true);
              }
              dataView(memory0).setUint32(ptr0 + 84, len15, true);
              dataView(memory0).setUint32(ptr0 + 80, result15, true);
              var vec17 = v7_5;
              var len17 = vec17.length;
              var result17 = realloc0(0, 0, 4, len17 * 8);
              for (let i = 0; i < vec17.length; i++) {
                const e = vec17[i];
                const base = result17 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr16= encodeRes.ptr;
                var len16 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len16, true);
                dataView(memory0).setUint32(base + 0, ptr16, true);
              }
              dataView(memory0).setUint32(ptr0 + 92, len17, true);
              dataView(memory0).setUint32(ptr0 + 88, result17, true);
              var variant19 = v7_6;
              if (variant19 === null || variant19=== undefined) {
                dataView(memory0).setInt8(ptr0 + 96, 0, true);
              } else {
                const e = variant19;
                dataView(memory0).setInt8(ptr0 + 96, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr18= encodeRes.ptr;
                var len18 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 104, len18, true);
                dataView(memory0).setUint32(ptr0 + 100, ptr18, true);
              }
              var variant21 = v7_7;
              if (variant21 === null || variant21=== undefined) {
                dataView(memory0).setInt8(ptr0 + 108, 0, true);
              } else {
                const e = variant21;
                dataView(memory0).setInt8(ptr0 + 108, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr20= encodeRes.ptr;
                var len20 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 116, len20, true);
                dataView(memory0).setUint32(ptr0 + 112, ptr20, true);
              }
            }
            dataView(memory0).setInt32(ptr0 + 120, toUint32(v2_5), true);
            dataView(memory0).setInt32(ptr0 + 124, toUint32(v2_6), true);
            var vec26 = v2_7;
            var len26 = vec26.length;
            var result26 = realloc0(0, 0, 4, len26 * 16);
            for (let i = 0; i < vec26.length; i++) {
              const e = vec26[i];
              const base = result26 + i * 16;var {key: v23_0, value: v23_1 } = e;
              
              var encodeRes = _utf8AllocateAndEncode(v23_0, realloc0, memory0);
              var ptr24= encodeRes.ptr;
              var len24 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len24, true);
              dataView(memory0).setUint32(base + 0, ptr24, true);
              
              var encodeRes = _utf8AllocateAndEncode(v23_1, realloc0, memory0);
              var ptr25= encodeRes.ptr;
              var len25 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 12, len25, true);
              dataView(memory0).setUint32(base + 8, ptr25, true);
            }
            dataView(memory0).setUint32(ptr0 + 132, len26, true);
            dataView(memory0).setUint32(ptr0 + 128, result26, true);
            var vec28 = v2_8;
            var len28 = vec28.length;
            var result28 = realloc0(0, 0, 4, len28 * 8);
            for (let i = 0; i < vec28.length; i++) {
              const e = vec28[i];
              const base = result28 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr27= encodeRes.ptr;
              var len27 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len27, true);
              dataView(memory0).setUint32(base + 0, ptr27, true);
            }
            dataView(memory0).setUint32(ptr0 + 140, len28, true);
            dataView(memory0).setUint32(ptr0 + 136, result28, true);
            var variant30 = v2_9;
            if (variant30 === null || variant30=== undefined) {
              dataView(memory0).setInt8(ptr0 + 144, 0, true);
            } else {
              const e = variant30;
              dataView(memory0).setInt8(ptr0 + 144, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr29= encodeRes.ptr;
              var len29 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 152, len29, true);
              dataView(memory0).setUint32(ptr0 + 148, ptr29, true);
            }
            dataView(memory0).setBigInt64(ptr0 + 160, toUint64(arg3), true);
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="evaluate"][Instruction::CallWasm] enter', {
              funcName: 'evaluate',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => alerts010Evaluate(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant51;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var len39 = dataView(memory0).getUint32(ret + 12, true);
                var base39 = dataView(memory0).getUint32(ret + 8, true);
                if (base39 % 4 !== 0) throw new TypeError(`list pointer [${base39}] is not aligned to 4`);
                var result39 = [];
                for (let i = 0; i < len39; i++) {
                  const base = base39 + i * 44;
                  let enum31;
                  switch (dataView(memory0).getUint8(base + 0, true)) {
                    case 0: {
                      enum31 = 'trigger';
                      break;
                    }
                    case 1: {
                      enum31 = 'escalate';
                      break;
                    }
                    case 2: {
                      enum31 = 'repeat';
                      break;
                    }
                    case 3: {
                      enum31 = 'resolve';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for NotificationKind');
                    }
                  }
                  let enum32;
                  switch (dataView(memory0).getUint8(base + 1, true)) {
                    case 0: {
                      enum32 = 'info';
                      break;
                    }
                    case 1: {
                      enum32 = 'warning';
                      break;
                    }
                    case 2: {
                      enum32 = 'high';
                      break;
                    }
                    case 3: {
                      enum32 = 'critical';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for Severity');
                    }
                  }
                  var len34 = dataView(memory0).getUint32(base + 8, true);
                  var base34 = dataView(memory0).getUint32(base + 4, true);
                  if (base34 % 4 !== 0) throw new TypeError(`list pointer [${base34}] is not aligned to 4`);
                  var result34 = [];
                  for (let i = 0; i < len34; i++) {
                    const base = base34 + i * 8;
                    var ptr33 = dataView(memory0).getUint32(base + 0, true);
                    var len33 = dataView(memory0).getUint32(base + 4, true);
                    var result33 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr33, len33));
                    result34.push(result33);
                  }
                  var ptr35 = dataView(memory0).getUint32(base + 12, true);
                  var len35 = dataView(memory0).getUint32(base + 16, true);
                  var result35 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr35, len35));
                  var ptr36 = dataView(memory0).getUint32(base + 20, true);
                  var len36 = dataView(memory0).getUint32(base + 24, true);
                  var result36 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr36, len36));
                  var ptr37 = dataView(memory0).getUint32(base + 28, true);
                  var len37 = dataView(memory0).getUint32(base + 32, true);
                  var result37 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr37, len37));
                  var ptr38 = dataView(memory0).getUint32(base + 36, true);
                  var len38 = dataView(memory0).getUint32(base + 40, true);
                  var result38 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr38, len38));
                  result39.push({
                    kind: enum31,
                    severity: enum32,
                    targets: result34,
                    rule: result35,
                    dedupKey: result36,
                    summary: result37,
                    payload: result38,
                  });
                }
                var len44 = dataView(memory0).getUint32(ret + 20, true);
                var base44 = dataView(memory0).getUint32(ret + 16, true);
                if (base44 % 4 !== 0) throw new TypeError(`list pointer [${base44}] is not aligned to 4`);
                var result44 = [];
                for (let i = 0; i < len44; i++) {
                  const base = base44 + i * 20;
                  var ptr40 = dataView(memory0).getUint32(base + 0, true);
                  var len40 = dataView(memory0).getUint32(base + 4, true);
                  var result40 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr40, len40));
                  var ptr41 = dataView(memory0).getUint32(base + 8, true);
                  var len41 = dataView(memory0).getUint32(base + 12, true);
                  var result41 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr41, len41));
                  let enum42;
                  switch (dataView(memory0).getUint8(base + 16, true)) {
                    case 0: {
                      enum42 = 'info';
                      break;
                    }
                    case 1: {
                      enum42 = 'warning';
                      break;
                    }
                    case 2: {
                      enum42 = 'high';
                      break;
                    }
                    case 3: {
                      enum42 = 'critical';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for Severity');
                    }
                  }
                  let enum43;
                  switch (dataView(memory0).getUint8(base + 17, true)) {
                    case 0: {
                      enum43 = 'duplicate';
                      break;
                    }
                    case 1: {
                      enum43 = 'inhibited';
                      break;
                    }
                    case 2: {
                      enum43 = 'acknowledged';
                      break;
                    }
                    case 3: {
                      enum43 = 'repeat-limit';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for SuppressionReason');
                    }
                  }
                  result44.push({
                    rule: result40,
                    dedupKey: result41,
                    severity: enum42,
                    reason: enum43,
                  });
                }
                var ptr45 = dataView(memory0).getUint32(ret + 24, true);
                var len45 = dataView(memory0).getUint32(ret + 28, true);
                var result45 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr45, len45));
                let variant46;
                switch (dataView(memory0).getUint8(ret + 32, true)) {
                  case 0: {
                    variant46 = undefined;
                    break;
                  }
                  case 1: {
                    variant46 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 40, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant51= {
                  tag: 'ok',
                  val: {
                    notifications: result39,
                    suppressed: result44,
                    state: result45,
                    nextWakeupMs: variant46,
                  }
                };
                break;
              }
              case 1: {
                let enum47;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum47 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum47 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum47 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum47 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum47 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum47 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum47 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum47 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum47 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum47 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum47 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum47 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr48 = dataView(memory0).getUint32(ret + 12, true);
                var len48 = dataView(memory0).getUint32(ret + 16, true);
                var result48 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr48, len48));
                var ptr49 = dataView(memory0).getUint32(ret + 20, true);
                var len49 = dataView(memory0).getUint32(ret + 24, true);
                var result49 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr49, len49));
                let variant50;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant50 = undefined;
                    break;
                  }
                  case 1: {
                    variant50 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant51= {
                  tag: 'err',
                  val: {
                    code: enum47,
                    message: result48,
                    path: result49,
                    location: variant50,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="evaluate"][Instruction::Return]', {
              funcName: 'evaluate',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant51;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn6(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let alerts010AlertStateKeys;
    
    function alertStateKeys(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'alerts010AlertStateKeys',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 148);
            dataView(memory0).setInt32(ptr0 + 0, toUint32(arg0), true);
            var {kind: v1_0, pipeline: v1_1, step: v1_2, runId: v1_3, failure: v1_4, attempt: v1_5, lateMinutes: v1_6, labels: v1_7, logLines: v1_8, dedupKey: v1_9 } = arg1;
            var val2 = v1_0;
            let enum2;
            switch (val2) {
              case 'attempt-failed': {
                enum2 = 0;
                break;
              }
              case 'run-failed': {
                enum2 = 1;
                break;
              }
              case 'run-succeeded': {
                enum2 = 2;
                break;
              }
              case 'run-late': {
                enum2 = 3;
                break;
              }
              case 'alert-acknowledged': {
                enum2 = 4;
                break;
              }
              case 'tick': {
                enum2 = 5;
                break;
              }
              default: {
                if ((v1_0) instanceof Error) {
                  console.error(v1_0);
                }
                
                throw new TypeError(`"${val2}" is not one of the cases of event-kind`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 4, enum2, true);
            
            var encodeRes = _utf8AllocateAndEncode(v1_1, realloc0, memory0);
            var ptr3= encodeRes.ptr;
            var len3 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 12, len3, true);
            dataView(memory0).setUint32(ptr0 + 8, ptr3, true);
            
            var encodeRes = _utf8AllocateAndEncode(v1_2, realloc0, memory0);
            var ptr4= encodeRes.ptr;
            var len4 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 20, len4, true);
            dataView(memory0).setUint32(ptr0 + 16, ptr4, true);
            
            var encodeRes = _utf8AllocateAndEncode(v1_3, realloc0, memory0);
            var ptr5= encodeRes.ptr;
            var len5 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 28, len5, true);
            dataView(memory0).setUint32(ptr0 + 24, ptr5, true);
            var variant21 = v1_4;
            if (variant21 === null || variant21=== undefined) {
              dataView(memory0).setInt8(ptr0 + 32, 0, true);
            } else {
              const e = variant21;
              dataView(memory0).setInt8(ptr0 + 32, 1, true);
              var {httpStatus: v6_0, grpcCode: v6_1, exitCode: v6_2, signal: v6_3, errorTypes: v6_4, errorBases: v6_5, errorCode: v6_6, message: v6_7 } = e;
              var variant7 = v6_0;
              if (variant7 === null || variant7=== undefined) {
                dataView(memory0).setInt8(ptr0 + 36, 0, true);
              } else {
                const e = variant7;
                dataView(memory0).setInt8(ptr0 + 36, 1, true);
                dataView(memory0).setInt16(ptr0 + 38, toUint16(e), true);
              }
              var variant9 = v6_1;
              if (variant9 === null || variant9=== undefined) {
                dataView(memory0).setInt8(ptr0 + 40, 0, true);
              } else {
                const e = variant9;
                dataView(memory0).setInt8(ptr0 + 40, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr8= encodeRes.ptr;
                var len8 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 48, len8, true);
                dataView(memory0).setUint32(ptr0 + 44, ptr8, true);
              }
              var variant10 = v6_2;
              if (variant10 === null || variant10=== undefined) {
                dataView(memory0).setInt8(ptr0 + 52, 0, true);
              } else {
                const e = variant10;
                dataView(memory0).setInt8(ptr0 + 52, 1, true);
                dataView(memory0).setInt32(ptr0 + 56, toInt32(e), true);
              }
              var variant12 = v6_3;
              if (variant12 === null || variant12=== undefined) {
                dataView(memory0).setInt8(ptr0 + 60, 0, true);
              } else {
                const e = variant12;
                dataView(memory0).setInt8(ptr0 + 60, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr11= encodeRes.ptr;
                var len11 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 68, len11, true);
                dataView(memory0).setUint32(ptr0 + 64, ptr11, true);
              }
              var vec14 = v6_4;
              var len14 = vec14.length;
              var result14 = realloc0(0, 0, 4, len14 * 8);
              for (let i = 0; i < vec14.length; i++) {
                const e = vec14[i];
                const base = result14 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr13= encodeRes.ptr;
                var len13 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len13, true);
                dataView(memory0).setUint32(base + 0, ptr13, true);
              }
              dataView(memory0).setUint32(ptr0 + 76, len14, true);
              dataView(memory0).setUint32(ptr0 + 72, result14, true);
              var vec16 = v6_5;
              var len16 = vec16.length;
              var result16 = realloc0(0, 0, 4, len16 * 8);
              for (let i = 0; i < vec16.length; i++) {
                const e = vec16[i];
                const base = result16 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr15= encodeRes.ptr;
                var len15 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len15, true);
                dataView(memory0).setUint32(base + 0, ptr15, true);
              }
              dataView(memory0).setUint32(ptr0 + 84, len16, true);
              dataView(memory0).setUint32(ptr0 + 80, result16, true);
              var variant18 = v6_6;
              if (variant18 === null || variant18=== undefined) {
                dataView(memory0).setInt8(ptr0 + 88, 0, true);
              } else {
                const e = variant18;
                dataView(memory0).setInt8(ptr0 + 88, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr17= encodeRes.ptr;
                var len17 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 96, len17, true);
                dataView(memory0).setUint32(ptr0 + 92, ptr17, true);
              }
              var variant20 = v6_7;
              if (variant20 === null || variant20=== undefined) {
                dataView(memory0).setInt8(ptr0 + 100, 0, true);
              } else {
                const e = variant20;
                dataView(memory0).setInt8(ptr0 + 100, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr19= encodeRes.ptr;
                var len19 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 108, len19, true);
                dataView(memory0).setUint32(ptr0 + 104, ptr19, true);
              }
            }
            dataView(memory0).setInt32(ptr0 + 112, toUint32(v1_5), true);
            dataView(memory0).setInt32(ptr0 + 116, toUint32(v1_6), true);
            var vec25 = v1_7;
            var len25 = vec25.length;
            var result25 = realloc0(0, 0, 4, len25 * 16);
            for (let i = 0; i < vec25.length; i++) {
              const e = vec25[i];
              const base = result25 + i * 16;var {key: v22_0, value: v22_1 } = e;
              
              var encodeRes = _utf8AllocateAndEncode(v22_0, realloc0, memory0);
              var ptr23= encodeRes.ptr;
              var len23 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len23, true);
              dataView(memory0).setUint32(base + 0, ptr23, true);
              
              var encodeRes = _utf8AllocateAndEncode(v22_1, realloc0, memory0);
              var ptr24= encodeRes.ptr;
              var len24 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 12, len24, true);
              dataView(memory0).setUint32(base + 8, ptr24, true);
            }
            dataView(memory0).setUint32(ptr0 + 124, len25, true);
            dataView(memory0).setUint32(ptr0 + 120, result25, true);
            var vec27 = v1_8;
            var len27 = vec27.length;
            var result27 = realloc0(0, 0, 4, len27 * 8);
            for (let i = 0; i < vec27.length; i++) {
              const e = vec27[i];
              const base = result27 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr26= encodeRes.ptr;
              var len26 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len26, true);
              dataView(memory0).setUint32(base + 0, ptr26, true);
            }
            dataView(memory0).setUint32(ptr0 + 132, len27, true);
            dataView(memory0).setUint32(ptr0 + 128, result27, true);
            var variant29 = v1_9;
            if (variant29 === null || variant29=== undefined) {
              dataView(memory0).setInt8(ptr0 + 136, 0, true);
            } else {
              const e = variant29;
              dataView(memory0).setInt8(ptr0 + 136, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr28= encodeRes.ptr;
              var len28 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 144, len28, true);
              dataView(memory0).setUint32(ptr0 + 140, ptr28, true);
            }
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="alert-state-keys"][Instruction::CallWasm] enter', {
              funcName: 'alert-state-keys',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => alerts010AlertStateKeys(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant37;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var len31 = dataView(memory0).getUint32(ret + 8, true);
                var base31 = dataView(memory0).getUint32(ret + 4, true);
                if (base31 % 4 !== 0) throw new TypeError(`list pointer [${base31}] is not aligned to 4`);
                var result31 = [];
                for (let i = 0; i < len31; i++) {
                  const base = base31 + i * 8;
                  var ptr30 = dataView(memory0).getUint32(base + 0, true);
                  var len30 = dataView(memory0).getUint32(base + 4, true);
                  var result30 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr30, len30));
                  result31.push(result30);
                }
                var bool32 = dataView(memory0).getUint8(ret + 12, true);
                variant37= {
                  tag: 'ok',
                  val: {
                    keys: result31,
                    everyKey: bool32 == 0 ? false : (bool32 == 1 ? true : throwInvalidBool()),
                  }
                };
                break;
              }
              case 1: {
                let enum33;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum33 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum33 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum33 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum33 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum33 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum33 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum33 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum33 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum33 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum33 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum33 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum33 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr34 = dataView(memory0).getUint32(ret + 8, true);
                var len34 = dataView(memory0).getUint32(ret + 12, true);
                var result34 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr34, len34));
                var ptr35 = dataView(memory0).getUint32(ret + 16, true);
                var len35 = dataView(memory0).getUint32(ret + 20, true);
                var result35 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr35, len35));
                let variant36;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant36 = undefined;
                    break;
                  }
                  case 1: {
                    variant36 = {
                      line: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant37= {
                  tag: 'err',
                  val: {
                    code: enum33,
                    message: result34,
                    path: result35,
                    location: variant36,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="alert-state-keys"][Instruction::Return]', {
              funcName: 'alert-state-keys',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant37;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn7(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let alerts010EvaluateKeyed;
    
    function evaluateKeyed(arg0, arg1, arg2, arg3) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'alerts010EvaluateKeyed',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 8, 168);
            dataView(memory0).setInt32(ptr0 + 0, toUint32(arg0), true);
            var vec5 = arg1;
            var len5 = vec5.length;
            var result5 = realloc0(0, 0, 8, len5 * 32);
            for (let i = 0; i < vec5.length; i++) {
              const e = vec5[i];
              const base = result5 + i * 32;var {key: v1_0, state: v1_1, nextWakeupMs: v1_2 } = e;
              
              var encodeRes = _utf8AllocateAndEncode(v1_0, realloc0, memory0);
              var ptr2= encodeRes.ptr;
              var len2 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len2, true);
              dataView(memory0).setUint32(base + 0, ptr2, true);
              
              var encodeRes = _utf8AllocateAndEncode(v1_1, realloc0, memory0);
              var ptr3= encodeRes.ptr;
              var len3 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 12, len3, true);
              dataView(memory0).setUint32(base + 8, ptr3, true);
              var variant4 = v1_2;
              if (variant4 === null || variant4=== undefined) {
                dataView(memory0).setInt8(base + 16, 0, true);
              } else {
                const e = variant4;
                dataView(memory0).setInt8(base + 16, 1, true);
                dataView(memory0).setBigInt64(base + 24, toUint64(e), true);
              }
            }
            dataView(memory0).setUint32(ptr0 + 8, len5, true);
            dataView(memory0).setUint32(ptr0 + 4, result5, true);
            var {kind: v6_0, pipeline: v6_1, step: v6_2, runId: v6_3, failure: v6_4, attempt: v6_5, lateMinutes: v6_6, labels: v6_7, logLines: v6_8, dedupKey: v6_9 } = arg2;
            var val7 = v6_0;
            let enum7;
            switch (val7) {
              case 'attempt-failed': {
                enum7 = 0;
                break;
              }
              case 'run-failed': {
                enum7 = 1;
                break;
              }
              case 'run-succeeded': {
                enum7 = 2;
                break;
              }
              case 'run-late': {
                enum7 = 3;
                break;
              }
              case 'alert-acknowledged': {
                enum7 = 4;
                break;
              }
              case 'tick': {
                enum7 = 5;
                break;
              }
              default: {
                if ((v6_0) instanceof Error) {
                  console.error(v6_0);
                }
                
                throw new TypeError(`"${val7}" is not one of the cases of event-kind`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 12, enum7, true);
            
            var encodeRes = _utf8AllocateAndEncode(v6_1, realloc0, memory0);
            var ptr8= encodeRes.ptr;
            var len8 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 20, len8, true);
            dataView(memory0).setUint32(ptr0 + 16, ptr8, true);
            
            var encodeRes = _utf8AllocateAndEncode(v6_2, realloc0, memory0);
            var ptr9= encodeRes.ptr;
            var len9 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 28, len9, true);
            dataView(memory0).setUint32(ptr0 + 24, ptr9, true);
            
            var encodeRes = _utf8AllocateAndEncode(v6_3, realloc0, memory0);
            var ptr10= encodeRes.ptr;
            var len10 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 36, len10, true);
            dataView(memory0).setUint32(ptr0 + 32, ptr10, true);
            var variant26 = v6_4;
            if (variant26 === null || variant26=== undefined) {
              dataView(memory0).setInt8(ptr0 + 40, 0, true);
            } else {
              const e = variant26;
              dataView(memory0).setInt8(ptr0 + 40, 1, true);
              var {httpStatus: v11_0, grpcCode: v11_1, exitCode: v11_2, signal: v11_3, errorTypes: v11_4, errorBases: v11_5, errorCode: v11_6, message: v11_7 } = e;
              var variant12 = v11_0;
              if (variant12 === null || variant12=== undefined) {
                dataView(memory0).setInt8(ptr0 + 44, 0, true);
              } else {
                const e = variant12;
                dataView(memory0).setInt8(ptr0 + 44, 1, true);
                dataView(memory0).setInt16(ptr0 + 46, toUint16(e), true);
              }
              var variant14 = v11_1;
              if (variant14 === null || variant14=== undefined) {
                dataView(memory0).setInt8(ptr0 + 48, 0, true);
              } else {
                const e = variant14;
                dataView(memory0).setInt8(ptr0 + 48, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr13= encodeRes.ptr;
                var len13 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 56, len13, true);
                dataView(memory0).setUint32(ptr0 + 52, ptr13, true);
              }
              var variant15 = v11_2;
              if (variant15 === null || variant15=== undefined) {
                dataView(memory0).setInt8(ptr0 + 60, 0, true);
              } else {
                const e = variant15;
                dataView(memory0).setInt8(ptr0 + 60, 1, true);
                dataView(memory0).setInt32(ptr0 + 64, toInt32(e), true);
              }
              var variant17 = v11_3;
              if (variant17 === null || variant17=== undefined) {
                dataView(memory0).setInt8(ptr0 + 68, 0, true);
              } else {
                const e = variant17;
                dataView(memory0).setInt8(ptr0 + 68, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr16= encodeRes.ptr;
                var len16 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 76, len16, true);
                dataView(memory0).setUint32(ptr0 + 72, ptr16, true);
              }
              var vec19 = v11_4;
              var len19 = vec19.length;
              var result19 = realloc0(0, 0, 4, len19 * 8);
              for (let i = 0; i < vec19.length; i++) {
                const e = vec19[i];
                const base = result19 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr18= encodeRes.ptr;
                var len18 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len18, true);
                dataView(memory0).setUint32(base + 0, ptr18, true);
              }
              dataView(memory0).setUint32(ptr0 + 84, len19, true);
              dataView(memory0).setUint32(ptr0 + 80, result19, true);
              var vec21 = v11_5;
              var len21 = vec21.length;
              var result21 = realloc0(0, 0, 4, len21 * 8);
              for (let i = 0; i < vec21.length; i++) {
                const e = vec21[i];
                const base = result21 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr20= encodeRes.ptr;
                var len20 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len20, true);
                dataView(memory0).setUint32(base + 0, ptr20, true);
              }
              dataView(memory0).setUint32(ptr0 + 92, len21, true);
              dataView(memory0).setUint32(ptr0 + 88, result21, true);
              var variant23 = v11_6;
              if (variant23 === null || variant23=== undefined) {
                dataView(memory0).setInt8(ptr0 + 96, 0, true);
              } else {
                const e = variant23;
                dataView(memory0).setInt8(ptr0 + 96, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr22= encodeRes.ptr;
                var len22 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 104, len22, true);
                dataView(memory0).setUint32(ptr0 + 100, ptr22, true);
              }
              var variant25 = v11_7;
              if (variant25 === null || variant25=== undefined) {
                dataView(memory0).setInt8(ptr0 + 108, 0, true);
              } else {
                const e = variant25;
                dataView(memory0).setInt8(ptr0 + 108, 1, true);
                
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr24= encodeRes.ptr;
                var len24 = encodeRes.len;
                
                dataView(memory0).setUint32(ptr0 + 116, len24, true);
                dataView(memory0).setUint32(ptr0 + 112, ptr24, true);
              }
            }
            dataView(memory0).setInt32(ptr0 + 120, toUint32(v6_5), true);
            dataView(memory0).setInt32(ptr0 + 124, toUint32(v6_6), true);
            var vec30 = v6_7;
            var len30 = vec30.length;
            var result30 = realloc0(0, 0, 4, len30 * 16);
            for (let i = 0; i < vec30.length; i++) {
              const e = vec30[i];
              const base = result30 + i * 16;var {key: v27_0, value: v27_1 } = e;
              
              var encodeRes = _utf8AllocateAndEncode(v27_0, realloc0, memory0);
              var ptr28= encodeRes.ptr;
              var len28 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len28, true);
              dataView(memory0).setUint32(base + 0, ptr28, true);
              
              var encodeRes = _utf8AllocateAndEncode(v27_1, realloc0, memory0);
              var ptr29= encodeRes.ptr;
              var len29 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 12, len29, true);
              dataView(memory0).setUint32(base + 8, ptr29, true);
            }
            dataView(memory0).setUint32(ptr0 + 132, len30, true);
            dataView(memory0).setUint32(ptr0 + 128, result30, true);
            var vec32 = v6_8;
            var len32 = vec32.length;
            var result32 = realloc0(0, 0, 4, len32 * 8);
            for (let i = 0; i < vec32.length; i++) {
              const e = vec32[i];
              const base = result32 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr31= encodeRes.ptr;
              var len31 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len31, true);
              dataView(memory0).setUint32(base + 0, ptr31, true);
            }
            dataView(memory0).setUint32(ptr0 + 140, len32, true);
            dataView(memory0).setUint32(ptr0 + 136, result32, true);
            var variant34 = v6_9;
            if (variant34 === null || variant34=== undefined) {
              dataView(memory0).setInt8(ptr0 + 144, 0, true);
            } else {
              const e = variant34;
              dataView(memory0).setInt8(ptr0 + 144, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr33= encodeRes.ptr;
              var len33 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 152, len33, true);
              dataView(memory0).setUint32(ptr0 + 148, ptr33, true);
            }
            dataView(memory0).setBigInt64(ptr0 + 160, toUint64(arg3), true);
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="evaluate-keyed"][Instruction::CallWasm] enter', {
              funcName: 'evaluate-keyed',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => alerts010EvaluateKeyed(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant58;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var len43 = dataView(memory0).getUint32(ret + 12, true);
                var base43 = dataView(memory0).getUint32(ret + 8, true);
                if (base43 % 4 !== 0) throw new TypeError(`list pointer [${base43}] is not aligned to 4`);
                var result43 = [];
                for (let i = 0; i < len43; i++) {
                  const base = base43 + i * 44;
                  let enum35;
                  switch (dataView(memory0).getUint8(base + 0, true)) {
                    case 0: {
                      enum35 = 'trigger';
                      break;
                    }
                    case 1: {
                      enum35 = 'escalate';
                      break;
                    }
                    case 2: {
                      enum35 = 'repeat';
                      break;
                    }
                    case 3: {
                      enum35 = 'resolve';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for NotificationKind');
                    }
                  }
                  let enum36;
                  switch (dataView(memory0).getUint8(base + 1, true)) {
                    case 0: {
                      enum36 = 'info';
                      break;
                    }
                    case 1: {
                      enum36 = 'warning';
                      break;
                    }
                    case 2: {
                      enum36 = 'high';
                      break;
                    }
                    case 3: {
                      enum36 = 'critical';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for Severity');
                    }
                  }
                  var len38 = dataView(memory0).getUint32(base + 8, true);
                  var base38 = dataView(memory0).getUint32(base + 4, true);
                  if (base38 % 4 !== 0) throw new TypeError(`list pointer [${base38}] is not aligned to 4`);
                  var result38 = [];
                  for (let i = 0; i < len38; i++) {
                    const base = base38 + i * 8;
                    var ptr37 = dataView(memory0).getUint32(base + 0, true);
                    var len37 = dataView(memory0).getUint32(base + 4, true);
                    var result37 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr37, len37));
                    result38.push(result37);
                  }
                  var ptr39 = dataView(memory0).getUint32(base + 12, true);
                  var len39 = dataView(memory0).getUint32(base + 16, true);
                  var result39 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr39, len39));
                  var ptr40 = dataView(memory0).getUint32(base + 20, true);
                  var len40 = dataView(memory0).getUint32(base + 24, true);
                  var result40 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr40, len40));
                  var ptr41 = dataView(memory0).getUint32(base + 28, true);
                  var len41 = dataView(memory0).getUint32(base + 32, true);
                  var result41 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr41, len41));
                  var ptr42 = dataView(memory0).getUint32(base + 36, true);
                  var len42 = dataView(memory0).getUint32(base + 40, true);
                  var result42 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr42, len42));
                  result43.push({
                    kind: enum35,
                    severity: enum36,
                    targets: result38,
                    rule: result39,
                    dedupKey: result40,
                    summary: result41,
                    payload: result42,
                  });
                }
                var len48 = dataView(memory0).getUint32(ret + 20, true);
                var base48 = dataView(memory0).getUint32(ret + 16, true);
                if (base48 % 4 !== 0) throw new TypeError(`list pointer [${base48}] is not aligned to 4`);
                var result48 = [];
                for (let i = 0; i < len48; i++) {
                  const base = base48 + i * 20;
                  var ptr44 = dataView(memory0).getUint32(base + 0, true);
                  var len44 = dataView(memory0).getUint32(base + 4, true);
                  var result44 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr44, len44));
                  var ptr45 = dataView(memory0).getUint32(base + 8, true);
                  var len45 = dataView(memory0).getUint32(base + 12, true);
                  var result45 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr45, len45));
                  let enum46;
                  switch (dataView(memory0).getUint8(base + 16, true)) {
                    case 0: {
                      enum46 = 'info';
                      break;
                    }
                    case 1: {
                      enum46 = 'warning';
                      break;
                    }
                    case 2: {
                      enum46 = 'high';
                      break;
                    }
                    case 3: {
                      enum46 = 'critical';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for Severity');
                    }
                  }
                  let enum47;
                  switch (dataView(memory0).getUint8(base + 17, true)) {
                    case 0: {
                      enum47 = 'duplicate';
                      break;
                    }
                    case 1: {
                      enum47 = 'inhibited';
                      break;
                    }
                    case 2: {
                      enum47 = 'acknowledged';
                      break;
                    }
                    case 3: {
                      enum47 = 'repeat-limit';
                      break;
                    }
                    default: {
                      throw new TypeError('invalid discriminant specified for SuppressionReason');
                    }
                  }
                  result48.push({
                    rule: result44,
                    dedupKey: result45,
                    severity: enum46,
                    reason: enum47,
                  });
                }
                var len52 = dataView(memory0).getUint32(ret + 28, true);
                var base52 = dataView(memory0).getUint32(ret + 24, true);
                if (base52 % 8 !== 0) throw new TypeError(`list pointer [${base52}] is not aligned to 8`);
                var result52 = [];
                for (let i = 0; i < len52; i++) {
                  const base = base52 + i * 32;
                  var ptr49 = dataView(memory0).getUint32(base + 0, true);
                  var len49 = dataView(memory0).getUint32(base + 4, true);
                  var result49 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr49, len49));
                  var ptr50 = dataView(memory0).getUint32(base + 8, true);
                  var len50 = dataView(memory0).getUint32(base + 12, true);
                  var result50 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr50, len50));
                  let variant51;
                  switch (dataView(memory0).getUint8(base + 16, true)) {
                    case 0: {
                      variant51 = undefined;
                      break;
                    }
                    case 1: {
                      variant51 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 24, true)));
                      break;
                    }
                    default: {
                      throw new TypeError('invalid variant discriminant for option');
                    }
                  }
                  result52.push({
                    key: result49,
                    state: result50,
                    nextWakeupMs: variant51,
                  });
                }
                let variant53;
                switch (dataView(memory0).getUint8(ret + 32, true)) {
                  case 0: {
                    variant53 = undefined;
                    break;
                  }
                  case 1: {
                    variant53 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 40, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant58= {
                  tag: 'ok',
                  val: {
                    notifications: result43,
                    suppressed: result48,
                    states: result52,
                    nextWakeupMs: variant53,
                  }
                };
                break;
              }
              case 1: {
                let enum54;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum54 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum54 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum54 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum54 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum54 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum54 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum54 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum54 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum54 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum54 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum54 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum54 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr55 = dataView(memory0).getUint32(ret + 12, true);
                var len55 = dataView(memory0).getUint32(ret + 16, true);
                var result55 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr55, len55));
                var ptr56 = dataView(memory0).getUint32(ret + 20, true);
                var len56 = dataView(memory0).getUint32(ret + 24, true);
                var result56 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr56, len56));
                let variant57;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant57 = undefined;
                    break;
                  }
                  case 1: {
                    variant57 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant58= {
                  tag: 'err',
                  val: {
                    code: enum54,
                    message: result55,
                    path: result56,
                    location: variant57,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="evaluate-keyed"][Instruction::Return]', {
              funcName: 'evaluate-keyed',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant58;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn8(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let alerts010Sinks;
    
    function sinks(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'alerts010Sinks',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="sinks"][Instruction::CallWasm] enter', {
              funcName: 'sinks',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => alerts010Sinks(toUint32(arg0)),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant17;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                let variant12;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    variant12 = undefined;
                    break;
                  }
                  case 1: {
                    var len11 = dataView(memory0).getUint32(ret + 12, true);
                    var base11 = dataView(memory0).getUint32(ret + 8, true);
                    if (base11 % 8 !== 0) throw new TypeError(`list pointer [${base11}] is not aligned to 8`);
                    var result11 = [];
                    for (let i = 0; i < len11; i++) {
                      const base = base11 + i * 72;
                      var ptr0 = dataView(memory0).getUint32(base + 0, true);
                      var len0 = dataView(memory0).getUint32(base + 4, true);
                      var result0 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr0, len0));
                      let enum1;
                      switch (dataView(memory0).getUint8(base + 8, true)) {
                        case 0: {
                          enum1 = 'stdout';
                          break;
                        }
                        case 1: {
                          enum1 = 'file';
                          break;
                        }
                        case 2: {
                          enum1 = 'webhook';
                          break;
                        }
                        case 3: {
                          enum1 = 'command';
                          break;
                        }
                        default: {
                          throw new TypeError('invalid discriminant specified for SinkKind');
                        }
                      }
                      var len3 = dataView(memory0).getUint32(base + 16, true);
                      var base3 = dataView(memory0).getUint32(base + 12, true);
                      if (base3 % 4 !== 0) throw new TypeError(`list pointer [${base3}] is not aligned to 4`);
                      var result3 = [];
                      for (let i = 0; i < len3; i++) {
                        const base = base3 + i * 8;
                        var ptr2 = dataView(memory0).getUint32(base + 0, true);
                        var len2 = dataView(memory0).getUint32(base + 4, true);
                        var result2 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr2, len2));
                        result3.push(result2);
                      }
                      let enum4;
                      switch (dataView(memory0).getUint8(base + 20, true)) {
                        case 0: {
                          enum4 = 'backstop';
                          break;
                        }
                        case 1: {
                          enum4 = 'pagerduty';
                          break;
                        }
                        case 2: {
                          enum4 = 'slack';
                          break;
                        }
                        case 3: {
                          enum4 = 'template';
                          break;
                        }
                        default: {
                          throw new TypeError('invalid discriminant specified for SinkFormat');
                        }
                      }
                      let variant6;
                      switch (dataView(memory0).getUint8(base + 32, true)) {
                        case 0: {
                          variant6 = undefined;
                          break;
                        }
                        case 1: {
                          var ptr5 = dataView(memory0).getUint32(base + 36, true);
                          var len5 = dataView(memory0).getUint32(base + 40, true);
                          var result5 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr5, len5));
                          variant6 = result5;
                          break;
                        }
                        default: {
                          throw new TypeError('invalid variant discriminant for option');
                        }
                      }
                      let variant8;
                      switch (dataView(memory0).getUint8(base + 44, true)) {
                        case 0: {
                          variant8 = undefined;
                          break;
                        }
                        case 1: {
                          var ptr7 = dataView(memory0).getUint32(base + 48, true);
                          var len7 = dataView(memory0).getUint32(base + 52, true);
                          var result7 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr7, len7));
                          variant8 = result7;
                          break;
                        }
                        default: {
                          throw new TypeError('invalid variant discriminant for option');
                        }
                      }
                      let variant10;
                      switch (dataView(memory0).getUint8(base + 56, true)) {
                        case 0: {
                          variant10 = undefined;
                          break;
                        }
                        case 1: {
                          var ptr9 = dataView(memory0).getUint32(base + 60, true);
                          var len9 = dataView(memory0).getUint32(base + 64, true);
                          var result9 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr9, len9));
                          variant10 = result9;
                          break;
                        }
                        default: {
                          throw new TypeError('invalid variant discriminant for option');
                        }
                      }
                      result11.push({
                        target: result0,
                        kind: enum1,
                        location: result3,
                        format: enum4,
                        timeoutMs: BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(base + 24, true))),
                        deadLetter: variant6,
                        routingKeyEnv: variant8,
                        template: variant10,
                      });
                    }
                    variant12 = result11;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant17= {
                  tag: 'ok',
                  val: variant12
                };
                break;
              }
              case 1: {
                let enum13;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum13 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum13 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum13 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum13 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum13 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum13 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum13 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum13 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum13 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum13 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum13 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum13 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr14 = dataView(memory0).getUint32(ret + 8, true);
                var len14 = dataView(memory0).getUint32(ret + 12, true);
                var result14 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr14, len14));
                var ptr15 = dataView(memory0).getUint32(ret + 16, true);
                var len15 = dataView(memory0).getUint32(ret + 20, true);
                var result15 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr15, len15));
                let variant16;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant16 = undefined;
                    break;
                  }
                  case 1: {
                    variant16 = {
                      line: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant17= {
                  tag: 'err',
                  val: {
                    code: enum13,
                    message: result14,
                    path: result15,
                    location: variant16,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/alerts@0.1.0", function="sinks"][Instruction::Return]', {
              funcName: 'sinks',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant17;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn9(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let redaction010Redact;
    
    function redact(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'redaction010Redact',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            
            var encodeRes = _utf8AllocateAndEncode(arg1, realloc0, memory0);
            var ptr0= encodeRes.ptr;
            var len0 = encodeRes.len;
            
            _debugLog('[iface="backstop:policy/redaction@0.1.0", function="redact"][Instruction::CallWasm] enter', {
              funcName: 'redact',
              paramCount: 3,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => redaction010Redact(toUint32(arg0), ptr0, len0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant8;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var ptr1 = dataView(memory0).getUint32(ret + 4, true);
                var len1 = dataView(memory0).getUint32(ret + 8, true);
                var result1 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr1, len1));
                var len3 = dataView(memory0).getUint32(ret + 16, true);
                var base3 = dataView(memory0).getUint32(ret + 12, true);
                if (base3 % 4 !== 0) throw new TypeError(`list pointer [${base3}] is not aligned to 4`);
                var result3 = [];
                for (let i = 0; i < len3; i++) {
                  const base = base3 + i * 12;
                  var ptr2 = dataView(memory0).getUint32(base + 0, true);
                  var len2 = dataView(memory0).getUint32(base + 4, true);
                  var result2 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr2, len2));
                  result3.push({
                    rule: result2,
                    count: dataView(memory0).getInt32(base + 8, true) >>> 0,
                  });
                }
                variant8= {
                  tag: 'ok',
                  val: {
                    text: result1,
                    redactions: result3,
                  }
                };
                break;
              }
              case 1: {
                let enum4;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    enum4 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum4 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum4 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum4 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum4 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum4 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum4 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum4 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum4 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum4 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum4 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum4 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr5 = dataView(memory0).getUint32(ret + 8, true);
                var len5 = dataView(memory0).getUint32(ret + 12, true);
                var result5 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr5, len5));
                var ptr6 = dataView(memory0).getUint32(ret + 16, true);
                var len6 = dataView(memory0).getUint32(ret + 20, true);
                var result6 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr6, len6));
                let variant7;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant7 = undefined;
                    break;
                  }
                  case 1: {
                    variant7 = {
                      line: dataView(memory0).getInt32(ret + 28, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant8= {
                  tag: 'err',
                  val: {
                    code: enum4,
                    message: result5,
                    path: result6,
                    location: variant7,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/redaction@0.1.0", function="redact"][Instruction::Return]', {
              funcName: 'redact',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant8;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn10(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let logs010ReadLog;
    
    function readLog(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'logs010ReadLog',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var {text: v0_0, exitCode: v0_1, signal: v0_2, stream: v0_3 } = arg0;
            
            var encodeRes = _utf8AllocateAndEncode(v0_0, realloc0, memory0);
            var ptr1= encodeRes.ptr;
            var len1 = encodeRes.len;
            
            var variant2 = v0_1;
            let variant2_0;
            let variant2_1;
            if (variant2 === null || variant2=== undefined) {
              variant2_0 = 0;
              variant2_1 = 0;
            } else {
              const e = variant2;
              variant2_0 = 1;
              variant2_1 = toInt32(e);
            }
            var variant4 = v0_2;
            let variant4_0;
            let variant4_1;
            let variant4_2;
            if (variant4 === null || variant4=== undefined) {
              variant4_0 = 0;
              variant4_1 = 0;
              variant4_2 = 0;
            } else {
              const e = variant4;
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr3= encodeRes.ptr;
              var len3 = encodeRes.len;
              
              variant4_0 = 1;
              variant4_1 = ptr3;
              variant4_2 = len3;
            }
            var variant6 = v0_3;
            let variant6_0;
            let variant6_1;
            if (variant6 === null || variant6=== undefined) {
              variant6_0 = 0;
              variant6_1 = 0;
            } else {
              const e = variant6;
              var val5 = e;
              let enum5;
              switch (val5) {
                case 'stderr': {
                  enum5 = 0;
                  break;
                }
                case 'stdout': {
                  enum5 = 1;
                  break;
                }
                case 'combined': {
                  enum5 = 2;
                  break;
                }
                default: {
                  if ((e) instanceof Error) {
                    console.error(e);
                  }
                  
                  throw new TypeError(`"${val5}" is not one of the cases of log-stream`);
                }
              }
              variant6_0 = 1;
              variant6_1 = enum5;
            }
            _debugLog('[iface="backstop:policy/logs@0.1.0", function="read-log"][Instruction::CallWasm] enter', {
              funcName: 'read-log',
              paramCount: 9,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => logs010ReadLog(ptr1, len1, variant2_0, variant2_1, variant4_0, variant4_1, variant4_2, variant6_0, variant6_1),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant29;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                let variant7;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    variant7 = undefined;
                    break;
                  }
                  case 1: {
                    variant7 = clampGuest(dataView(memory0).getUint16(ret + 10, true), 0, 65535);
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let variant9;
                switch (dataView(memory0).getUint8(ret + 12, true)) {
                  case 0: {
                    variant9 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr8 = dataView(memory0).getUint32(ret + 16, true);
                    var len8 = dataView(memory0).getUint32(ret + 20, true);
                    var result8 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr8, len8));
                    variant9 = result8;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let variant10;
                switch (dataView(memory0).getUint8(ret + 24, true)) {
                  case 0: {
                    variant10 = undefined;
                    break;
                  }
                  case 1: {
                    variant10 = dataView(memory0).getInt32(ret + 28, true);
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let variant12;
                switch (dataView(memory0).getUint8(ret + 32, true)) {
                  case 0: {
                    variant12 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr11 = dataView(memory0).getUint32(ret + 36, true);
                    var len11 = dataView(memory0).getUint32(ret + 40, true);
                    var result11 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr11, len11));
                    variant12 = result11;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                var len14 = dataView(memory0).getUint32(ret + 48, true);
                var base14 = dataView(memory0).getUint32(ret + 44, true);
                if (base14 % 4 !== 0) throw new TypeError(`list pointer [${base14}] is not aligned to 4`);
                var result14 = [];
                for (let i = 0; i < len14; i++) {
                  const base = base14 + i * 8;
                  var ptr13 = dataView(memory0).getUint32(base + 0, true);
                  var len13 = dataView(memory0).getUint32(base + 4, true);
                  var result13 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr13, len13));
                  result14.push(result13);
                }
                var len16 = dataView(memory0).getUint32(ret + 56, true);
                var base16 = dataView(memory0).getUint32(ret + 52, true);
                if (base16 % 4 !== 0) throw new TypeError(`list pointer [${base16}] is not aligned to 4`);
                var result16 = [];
                for (let i = 0; i < len16; i++) {
                  const base = base16 + i * 8;
                  var ptr15 = dataView(memory0).getUint32(base + 0, true);
                  var len15 = dataView(memory0).getUint32(base + 4, true);
                  var result15 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr15, len15));
                  result16.push(result15);
                }
                let variant18;
                switch (dataView(memory0).getUint8(ret + 60, true)) {
                  case 0: {
                    variant18 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr17 = dataView(memory0).getUint32(ret + 64, true);
                    var len17 = dataView(memory0).getUint32(ret + 68, true);
                    var result17 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr17, len17));
                    variant18 = result17;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                let variant20;
                switch (dataView(memory0).getUint8(ret + 72, true)) {
                  case 0: {
                    variant20 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr19 = dataView(memory0).getUint32(ret + 76, true);
                    var len19 = dataView(memory0).getUint32(ret + 80, true);
                    var result19 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr19, len19));
                    variant20 = result19;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                var len22 = dataView(memory0).getUint32(ret + 88, true);
                var base22 = dataView(memory0).getUint32(ret + 84, true);
                if (base22 % 4 !== 0) throw new TypeError(`list pointer [${base22}] is not aligned to 4`);
                var result22 = [];
                for (let i = 0; i < len22; i++) {
                  const base = base22 + i * 8;
                  var ptr21 = dataView(memory0).getUint32(base + 0, true);
                  var len21 = dataView(memory0).getUint32(base + 4, true);
                  var result21 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr21, len21));
                  result22.push(result21);
                }
                var ptr23 = dataView(memory0).getUint32(ret + 92, true);
                var len23 = dataView(memory0).getUint32(ret + 96, true);
                var result23 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr23, len23));
                let variant24;
                switch (dataView(memory0).getUint8(ret + 104, true)) {
                  case 0: {
                    variant24 = undefined;
                    break;
                  }
                  case 1: {
                    variant24 = BigInt.asUintN(64, BigInt(dataView(memory0).getBigInt64(ret + 112, true)));
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant29= {
                  tag: 'ok',
                  val: {
                    failure: {
                      httpStatus: variant7,
                      grpcCode: variant9,
                      exitCode: variant10,
                      signal: variant12,
                      errorTypes: result14,
                      errorBases: result16,
                      errorCode: variant18,
                      message: variant20,
                    },
                    readers: result22,
                    summary: result23,
                    pushbackMs: variant24,
                  }
                };
                break;
              }
              case 1: {
                let enum25;
                switch (dataView(memory0).getUint8(ret + 8, true)) {
                  case 0: {
                    enum25 = 'syntax';
                    break;
                  }
                  case 1: {
                    enum25 = 'unknown-field';
                    break;
                  }
                  case 2: {
                    enum25 = 'missing-field';
                    break;
                  }
                  case 3: {
                    enum25 = 'wrong-type';
                    break;
                  }
                  case 4: {
                    enum25 = 'invalid-value';
                    break;
                  }
                  case 5: {
                    enum25 = 'out-of-range';
                    break;
                  }
                  case 6: {
                    enum25 = 'duplicate-id';
                    break;
                  }
                  case 7: {
                    enum25 = 'invalid-regex';
                    break;
                  }
                  case 8: {
                    enum25 = 'too-large';
                    break;
                  }
                  case 9: {
                    enum25 = 'unknown-policy';
                    break;
                  }
                  case 10: {
                    enum25 = 'invalid-failure';
                    break;
                  }
                  case 11: {
                    enum25 = 'invalid-state';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for ErrorCode');
                  }
                }
                var ptr26 = dataView(memory0).getUint32(ret + 12, true);
                var len26 = dataView(memory0).getUint32(ret + 16, true);
                var result26 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr26, len26));
                var ptr27 = dataView(memory0).getUint32(ret + 20, true);
                var len27 = dataView(memory0).getUint32(ret + 24, true);
                var result27 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr27, len27));
                let variant28;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant28 = undefined;
                    break;
                  }
                  case 1: {
                    variant28 = {
                      line: dataView(memory0).getInt32(ret + 32, true) >>> 0,
                      column: dataView(memory0).getInt32(ret + 36, true) >>> 0,
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant29= {
                  tag: 'err',
                  val: {
                    code: enum25,
                    message: result26,
                    path: result27,
                    location: variant28,
                  }
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="backstop:policy/logs@0.1.0", function="read-log"][Instruction::Return]', {
              funcName: 'read-log',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant29;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn11(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    ({ exports: exports0 } = instantiateCore(module0));
    memory0 = exports0.memory;
    realloc0 = exports0.cabi_realloc;
    
    try {
      realloc0Async = WebAssembly.promising(exports0.cabi_realloc);
    } catch(err) {
      realloc0Async = exports0.cabi_realloc;
    }
    
    postReturn0 = exports0['cabi_post_backstop:policy/classifier@0.1.0#load-policy'];
    
    try {
      postReturn0Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/classifier@0.1.0#load-policy']);
    } catch(err) {
      postReturn0Async = exports0['cabi_post_backstop:policy/classifier@0.1.0#load-policy'];
    }
    
    postReturn1 = exports0['cabi_post_backstop:policy/classifier@0.1.0#classify'];
    
    try {
      postReturn1Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/classifier@0.1.0#classify']);
    } catch(err) {
      postReturn1Async = exports0['cabi_post_backstop:policy/classifier@0.1.0#classify'];
    }
    
    postReturn2 = exports0['cabi_post_backstop:policy/retry@0.1.0#after-success'];
    
    try {
      postReturn2Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/retry@0.1.0#after-success']);
    } catch(err) {
      postReturn2Async = exports0['cabi_post_backstop:policy/retry@0.1.0#after-success'];
    }
    
    postReturn3 = exports0['cabi_post_backstop:policy/retry@0.1.0#after-failure'];
    
    try {
      postReturn3Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/retry@0.1.0#after-failure']);
    } catch(err) {
      postReturn3Async = exports0['cabi_post_backstop:policy/retry@0.1.0#after-failure'];
    }
    
    postReturn4 = exports0['cabi_post_backstop:policy/retry@0.1.0#plan-failures'];
    
    try {
      postReturn4Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/retry@0.1.0#plan-failures']);
    } catch(err) {
      postReturn4Async = exports0['cabi_post_backstop:policy/retry@0.1.0#plan-failures'];
    }
    
    postReturn5 = exports0['cabi_post_backstop:policy/retry@0.1.0#plan-schedule'];
    
    try {
      postReturn5Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/retry@0.1.0#plan-schedule']);
    } catch(err) {
      postReturn5Async = exports0['cabi_post_backstop:policy/retry@0.1.0#plan-schedule'];
    }
    
    postReturn6 = exports0['cabi_post_backstop:policy/alerts@0.1.0#evaluate'];
    
    try {
      postReturn6Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/alerts@0.1.0#evaluate']);
    } catch(err) {
      postReturn6Async = exports0['cabi_post_backstop:policy/alerts@0.1.0#evaluate'];
    }
    
    postReturn7 = exports0['cabi_post_backstop:policy/alerts@0.1.0#alert-state-keys'];
    
    try {
      postReturn7Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/alerts@0.1.0#alert-state-keys']);
    } catch(err) {
      postReturn7Async = exports0['cabi_post_backstop:policy/alerts@0.1.0#alert-state-keys'];
    }
    
    postReturn8 = exports0['cabi_post_backstop:policy/alerts@0.1.0#evaluate-keyed'];
    
    try {
      postReturn8Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/alerts@0.1.0#evaluate-keyed']);
    } catch(err) {
      postReturn8Async = exports0['cabi_post_backstop:policy/alerts@0.1.0#evaluate-keyed'];
    }
    
    postReturn9 = exports0['cabi_post_backstop:policy/alerts@0.1.0#sinks'];
    
    try {
      postReturn9Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/alerts@0.1.0#sinks']);
    } catch(err) {
      postReturn9Async = exports0['cabi_post_backstop:policy/alerts@0.1.0#sinks'];
    }
    
    postReturn10 = exports0['cabi_post_backstop:policy/redaction@0.1.0#redact'];
    
    try {
      postReturn10Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/redaction@0.1.0#redact']);
    } catch(err) {
      postReturn10Async = exports0['cabi_post_backstop:policy/redaction@0.1.0#redact'];
    }
    
    postReturn11 = exports0['cabi_post_backstop:policy/logs@0.1.0#read-log'];
    
    try {
      postReturn11Async = WebAssembly.promising(exports0['cabi_post_backstop:policy/logs@0.1.0#read-log']);
    } catch(err) {
      postReturn11Async = exports0['cabi_post_backstop:policy/logs@0.1.0#read-log'];
    }
    
    classifier010LoadPolicy = exports0['backstop:policy/classifier@0.1.0#load-policy'];
    classifier010DropPolicy = exports0['backstop:policy/classifier@0.1.0#drop-policy'];
    classifier010Classify = exports0['backstop:policy/classifier@0.1.0#classify'];
    retry010BeginAttempt = exports0['backstop:policy/retry@0.1.0#begin-attempt'];
    retry010AfterFailure = exports0['backstop:policy/retry@0.1.0#after-failure'];
    retry010PlanFailures = exports0['backstop:policy/retry@0.1.0#plan-failures'];
    retry010AfterSuccess = exports0['backstop:policy/retry@0.1.0#after-success'];
    retry010FastPathFor = exports0['backstop:policy/retry@0.1.0#fast-path-for'];
    retry010PlanSchedule = exports0['backstop:policy/retry@0.1.0#plan-schedule'];
    retry010DeriveSeed = exports0['backstop:policy/retry@0.1.0#derive-seed'];
    alerts010Evaluate = exports0['backstop:policy/alerts@0.1.0#evaluate'];
    alerts010AlertStateKeys = exports0['backstop:policy/alerts@0.1.0#alert-state-keys'];
    alerts010EvaluateKeyed = exports0['backstop:policy/alerts@0.1.0#evaluate-keyed'];
    alerts010Sinks = exports0['backstop:policy/alerts@0.1.0#sinks'];
    redaction010Redact = exports0['backstop:policy/redaction@0.1.0#redact'];
    logs010ReadLog = exports0['backstop:policy/logs@0.1.0#read-log'];
    const alerts010 = {
      alertStateKeys: alertStateKeys,
      evaluate: evaluate,
      evaluateKeyed: evaluateKeyed,
      sinks: sinks,
      
    };
    const classifier010 = {
      classify: classify,
      dropPolicy: dropPolicy,
      loadPolicy: loadPolicy,
      
    };
    const logs010 = {
      readLog: readLog,
      
    };
    const redaction010 = {
      redact: redact,
      
    };
    const retry010 = {
      afterFailure: afterFailure,
      afterSuccess: afterSuccess,
      beginAttempt: beginAttempt,
      deriveSeed: deriveSeed,
      fastPathFor: fastPathFor,
      planFailures: planFailures,
      planSchedule: planSchedule,
      
    };
    
    return { alerts: alerts010, classifier: classifier010, logs: logs010, redaction: redaction010, retry: retry010, 'backstop:policy/alerts@0.1.0': alerts010, 'backstop:policy/classifier@0.1.0': classifier010, 'backstop:policy/logs@0.1.0': logs010, 'backstop:policy/redaction@0.1.0': redaction010, 'backstop:policy/retry@0.1.0': retry010,  };
  })();
  let promise, resolve, reject;
  function normalizeInstantiationError(e) {
    // Native JSPI rejects a suspending import called from a
    // core start function before entering its JS wrapper.
    // At component instantiation time that always means the
    // implicit synchronous task attempted to block.
    if (typeof WebAssembly.SuspendError === 'function' && e instanceof WebAssembly.SuspendError) {
      return new WebAssembly.RuntimeError('cannot block a synchronous task before returning');
    }
    return e;
  }
  function runNext(value) {
    try {
      let done;
      do {
        ({ value, done } = gen.next(value));
      } while (!(value instanceof Promise) && !done);
      if (done) {
        if (resolve) return resolve(value);
        else return value;
      }
      if (!promise) promise = new Promise((_resolve, _reject) => (resolve = _resolve, reject= _reject));
      value.then(nextVal => done ? resolve() : runNext(nextVal), e => reject(normalizeInstantiationError(e)));
    }
    catch (e) {
      e = normalizeInstantiationError(e);
      if (reject) reject(e);
      else throw e;
    }
  }
  const maybeSyncReturn = runNext(null);
  return promise || maybeSyncReturn;
};

export const _util = {
  
}

