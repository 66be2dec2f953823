"""The grader's side of the shims: the reference of earlier parts, run for the worker.

When part 3 is graded, the student's ``multihead.py`` imports ``scaled_dot_product_attention``
from part 2. The worker must not hold the reference's code, so its ``qkv`` is a stand-in
(:mod:`.shells`) whose calls come here, to :class:`ShimService`, and run the reference in
the grader's process, on inputs the student's process chose: their size is bounded per call,
and the grader's own memory limit bounds what they make the reference compute.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import types
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from autograder.grader.channel.peer import Peer
from autograder.grader.channel.shells import skeleton_names

SKELETONS = 256
"""How many distinct skeletons of reference instances the grader remembers sending."""


def is_data(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is plain data that can be copied to the other process."""
    if depth > 8:
        return False
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return True
    if isinstance(value, torch.Tensor | torch.dtype | torch.device):
        return True
    if type(value) in (tuple, list, set, frozenset):
        return all(is_data(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_data(k, depth + 1) and is_data(v, depth + 1) for k, v in value.items())
    return False


def _immutable(value: Any) -> bool:
    """Whether ``value`` is data compared by value: it can key the skeletons sent."""
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return True
    if isinstance(value, torch.dtype | torch.device):
        return True
    return type(value) in (tuple, frozenset) and all(_immutable(v) for v in value)


@functools.cache
def _public_methods(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in cls.__mro__:
        if klass in (torch.nn.Module, object):
            break
        for name, value in vars(klass).items():
            if not name.startswith("_") and callable(value) and name not in names:
                names.append(name)
    return tuple(names)


def public_methods(cls: type) -> list[str]:
    """Public methods a class defines beyond ``nn.Module``'s own (``encode``, ``decode``...).

    Read once per class (the reference's classes do not change while grading).
    """
    return list(_public_methods(cls))


@contextlib.contextmanager
def _within_memory(what: str) -> Iterator[None]:
    """Turn the grader refusing an allocation into an error for the submission's call."""
    try:
        yield
    except MemoryError:
        raise ValueError(
            f"the grader refuses to run {what} on these inputs: it would need more memory "
            "than the grader allows for one call (are the sequences far longer than needed?)"
        ) from None
    except RuntimeError as error:
        if "allocate memory" not in str(error) and "not enough memory" not in str(error):
            raise
        raise ValueError(
            f"the grader refuses to run {what} on these inputs: it would need more memory "
            "than the grader allows for one call (are the sequences far longer than needed?)"
        ) from None


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Draw from a generator seeded by ``seed``, leaving the caller's generator as it was.

    (``torch.random.fork_rng`` and ``torch.manual_seed`` do more, and cost a millisecond.)
    """
    generator = torch.default_generator
    state = generator.get_state()
    generator.manual_seed(int(seed))
    cuda = torch.cuda.is_initialized()
    if cuda:
        cuda_states = torch.cuda.get_rng_state_all()
        torch.cuda.manual_seed_all(int(seed))
    try:
        yield
    finally:
        generator.set_state(state)
        if cuda:
            torch.cuda.set_rng_state_all(cuda_states)


class _MethodCaller(torch.nn.Module):
    """Calls one method of ``target`` so ``functional_call`` can reparametrise any method."""

    def __init__(self, target: torch.nn.Module, method: str) -> None:
        super().__init__()
        self.target = target
        self.method = method

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.target, self.method)(*args, **kwargs)


_ABSENT = object()


@dataclass(frozen=True)
class _Layout:
    """What :meth:`ShimService.module_call` reads of a reference submodule, once.

    Attributes:
        names: the tensor names a shell sends for it (one per distinct tensor).
        places: every place each named tensor goes (a tied tensor has several).
        modules: its submodules in ``named_modules`` order, each as its attribute dict.
        methods: the methods a shell may call on it.
        publics: each submodule's public attribute names, as last seen (a call that adds
            one is noticed by the dict's size and last key, see :func:`_changes`).
        pure: the methods that never change the module's tensors in place: ``forward`` and
            the public methods of the reference's own classes (tests/test_shell_calls.py
            checks every one); others (``nn.Linear.reset_parameters``) get copies.
    """

    names: frozenset[str]
    places: list[tuple[str, dict[str, Any], str]]
    modules: list[tuple[str, dict[str, Any]]]
    methods: frozenset[str]
    publics: list[list[str]]
    pure: frozenset[str]


def _watch(layout: _Layout) -> list[tuple[int, Any, list[Any]]]:
    """What :func:`_changes` compares with after a call: each submodule's attribute count,
    last attribute name and public attributes' values (not a copy of every attribute)."""
    return [
        (
            len(attributes),
            next(reversed(attributes), None),
            [attributes.get(k, _ABSENT) for k in keys],
        )
        for (_, attributes), keys in zip(layout.modules, layout.publics, strict=True)
    ]


def _changes(layout: _Layout, watched: list[tuple[int, Any, list[Any]]]) -> dict[str, Any]:
    """The public attributes a call set to a tensor or None, by submodule path."""
    changed: dict[str, dict[str, Any]] = {}
    for index, ((path, attributes), (count, last, values)) in enumerate(
        zip(layout.modules, watched, strict=True)
    ):
        keys = layout.publics[index]
        for name, old in zip(keys, values, strict=True):
            value = attributes.get(name, _ABSENT)
            if value is not old and (value is None or isinstance(value, torch.Tensor)):
                changed.setdefault(path, {})[name] = value
        if len(attributes) != count or next(reversed(attributes), None) != last:
            # Attributes added (new names go last) or removed: look at every name once.
            known = set(keys)
            for name, value in attributes.items():
                if name[:1] != "_" and name not in known:
                    keys.append(name)
                    if value is None or isinstance(value, torch.Tensor):
                        changed.setdefault(path, {})[name] = value
            layout.publics[index] = [name for name in keys if name in attributes]
    return changed


class ShimService:
    """The grader's side of the dependency shims: runs reference code for the worker.

    The worker reaches it through a proxy and may only call :meth:`call`,
    :meth:`construct` and :meth:`module_call`, naming a public function or class of one of
    the ``dependencies``; it never gets the reference functions or their source.
    """

    def __init__(
        self,
        peer: Peer,
        dependencies: dict[str, types.ModuleType],
        max_elements: int = 2**22,
    ) -> None:
        self._peer = peer
        self._dependencies = dependencies
        # Weak: an instance lives as long as the worker holds its handle, not as long as
        # the grader does (a submission that builds thousands does not fill the grader).
        self._instances: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._max_elements = max_elements
        self._skeletons: OrderedDict[Any, int] = OrderedDict()
        self._skeleton_ids = itertools.count(1)
        self._layouts: weakref.WeakKeyDictionary[torch.nn.Module, _Layout] = (
            weakref.WeakKeyDictionary()
        )
        self._shell_names: weakref.WeakKeyDictionary[torch.nn.Module, tuple[str, ...]] = (
            weakref.WeakKeyDictionary()
        )
        # The reference modules do not change while grading: what each offers is read once.
        self._described: dict[str, dict[str, Any]] = {}

    def _check_size(self, *values: Any) -> None:
        # The reference runs in the grader's process on inputs the student's process chose:
        # bound them, so a hostile submission cannot make the grader allocate without end.
        total = 0
        stack = list(values)
        while stack:
            value = stack.pop()
            if isinstance(value, torch.Tensor):
                total += value.numel()
            elif type(value) in (tuple, list):
                stack.extend(value)
            elif type(value) is dict:
                stack.extend(value.values())
        if total > self._max_elements:
            raise ValueError(
                f"the grader runs the reference on at most {self._max_elements} tensor elements "
                f"per call, got {total}"
            )

    def _names(self, module: types.ModuleType) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            if isinstance(value, type):
                if value.__module__ != module.__name__:
                    continue
                kind = "module" if issubclass(value, torch.nn.Module) else "class"
                found[name] = (kind, public_methods(value) if kind == "module" else [])
            elif isinstance(value, types.FunctionType):
                if value.__module__ == module.__name__:
                    found[name] = ("function", [])
            elif is_data(value) and not isinstance(value, torch.Tensor | torch.dtype):
                found[name] = ("data", value)
        return found

    def describe(self) -> dict[str, Any]:
        """What the worker needs to build each shim module (this service's handle included)."""
        self._peer.pin(self)
        return {
            name: {"service": self, "names": self._names(module)}
            for name, module in self._dependencies.items()
        }

    def _lookup(self, module: Any, name: Any, kinds: tuple[str, ...]) -> Any:
        dependency = self._dependencies.get(module) if isinstance(module, str) else None
        if dependency is None or not isinstance(name, str):
            raise PermissionError(f"{module!r} is not a module the grader provides")
        names = self._described.get(module)
        if names is None:
            names = self._described[module] = self._names(dependency)
        entry = names.get(name)
        if entry is None or entry[0] not in kinds:
            raise AttributeError(f"module {module!r} has no {name!r}")
        return getattr(dependency, name)

    def call(
        self, module: str, name: str, seed: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call the reference function ``module.name`` (random draws seeded by the worker)."""
        function = self._lookup(module, name, ("function",))
        self._check_size(args, kwargs)
        with _within_memory(f"the reference {name}"), _seeded(seed):
            return function(*args, **kwargs)

    def construct(
        self, module: str, name: str, seed: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Build a reference instance; for an ``nn.Module`` also describe its structure."""
        cls = self._lookup(module, name, ("module", "class"))
        self._check_size(args, kwargs)
        with _within_memory(f"the reference {name}"), _seeded(seed):
            instance = cls(*args, **kwargs)
        if not isinstance(instance, torch.nn.Module):
            return instance
        self._instances[id(instance)] = instance
        return instance, self._structure(instance)

    def _structure(self, root: torch.nn.Module) -> tuple[int | None, Any, list[torch.Tensor]]:
        """The instance's skeleton (its id, and the skeleton itself when the worker lacks it)
        and its tensors, in the order the worker's ``shells._build_shell`` takes them.

        A skeleton is everything but the tensors: each submodule's path, type, public
        methods, parameter names (an index per distinct parameter, so tied ones stay tied),
        buffer names and attributes. Models are built from the same few layers again and
        again, so each distinct skeleton is sent once (the grader remembers the last
        :data:`SKELETONS` it sent); later instances send its id and their tensors only.
        """
        unique: dict[int, int] = {}
        nodes = []
        tensors: list[torch.Tensor] = []
        for path, module in root.named_modules():
            params = []
            for name, param in module._parameters.items():
                if param is None:
                    params.append((name, None))
                    continue
                index = unique.get(id(param))
                if index is None:
                    index = unique[id(param)] = len(unique)
                    tensors.append(param.detach())
                params.append((name, index))
            buffers = []
            for name, buffer in module._buffers.items():
                persistent = name not in module._non_persistent_buffers_set
                buffers.append((name, persistent, buffer is not None))
                if buffer is not None:
                    tensors.append(buffer)
            attrs = tuple(
                (name, value)
                for name, value in vars(module).items()
                if not name.startswith("_") and name != "training" and is_data(value)
            )
            kind = (type(module).__name__, _public_methods(type(module)))
            nodes.append((path, *kind, tuple(params), tuple(buffers), attrs, module.training))
        skeleton = tuple(nodes)
        # What a shell built from it sends when it sends its tensors alone (module_call).
        self._shell_names[root] = skeleton_names(skeleton)
        if not all(_immutable(value) for node in nodes for _, value in node[5]):
            # An attribute that is a tensor, a list or a dict: the skeleton is sent whole.
            return None, skeleton, tensors
        known = self._skeletons.get(skeleton)
        if known is not None:
            self._skeletons.move_to_end(skeleton)
            return known, None, tensors
        known = self._skeletons[skeleton] = next(self._skeleton_ids)
        while len(self._skeletons) > SKELETONS:
            self._skeletons.popitem(last=False)
        return known, skeleton, tensors

    def _layout(self, module: torch.nn.Module) -> _Layout:
        """What a call of ``module`` needs to know of it, read once (see :class:`_Layout`)."""
        layout = self._layouts.get(module)
        if layout is None:
            references = {dependency.__name__ for dependency in self._dependencies.values()}
            cls = type(module)
            own = _public_methods(cls) if cls.__module__ in references else ()
            modules = [(path, vars(sub)) for path, sub in module.named_modules()]
            first: dict[int, str] = {}
            places = []
            for path, sub in module.named_modules(remove_duplicate=False):
                for where in (sub._parameters, sub._buffers):
                    for local, value in where.items():
                        if value is not None:
                            name = first.setdefault(id(value), f"{path}.{local}" if path else local)
                            places.append((name, where, local))
            layout = self._layouts[module] = _Layout(
                names=frozenset(first.values()),
                places=places,
                modules=modules,
                methods=frozenset(("forward", *_public_methods(cls))),
                publics=[[name for name in attrs if name[:1] != "_"] for _, attrs in modules],
                pure=frozenset(("forward", *own)),
            )
        return layout

    def module_call(
        self,
        instance: Any,
        path: str,
        method: str,
        seed: int,
        state: dict[str, torch.Tensor] | tuple[torch.Tensor, ...],
        training: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[Any, dict[str, dict[str, Any]]]:
        """Run ``method`` of a reference submodule with the worker shell's parameters.

        Returns the result and the tensor attributes the method set (``attention_weights``),
        by submodule path, for the shell to copy.
        """
        if self._instances.get(id(instance)) is not instance:
            raise PermissionError("not an instance the grader built for this submission")
        module = instance.get_submodule(path) if path else instance
        layout = self._layout(module)
        if not isinstance(method, str) or method not in layout.methods:
            raise AttributeError(f"{type(module).__name__} has no method {method!r}")
        self._check_size(state, args, kwargs)
        if type(state) is tuple:
            # Only a whole shell sends its tensors without names (shells.skeleton_names).
            names = self._shell_names.get(instance, ()) if not path else ()
            if len(state) != len(names):
                raise ValueError("the shell's tensors do not match the reference's")
            state = dict(zip(names, state, strict=True))
        modules = layout.modules
        if type(training) is not str or len(training) != len(modules):
            raise ValueError("the shell's submodules do not match the reference's")
        for (_, attributes), flag in zip(modules, training, strict=True):
            # Straight into the instance's attributes: nn.Module.__setattr__ costs more than
            # the rest of a small layer's call.
            attributes["training"] = flag == "1"
        watched = _watch(layout)
        # The channel keeps the received tensors for later calls (.kept). A method such as
        # reset_parameters changes its tensors in place: it gets copies (still connected to
        # autograd), so that it changes neither the shell nor the kept tensors. A forward (or
        # a Transformer's encode and decode) never does, and is called often: it gets the
        # kept tensors themselves, their versions checked afterwards (_Layout.pure).
        pure = method in layout.pure
        versions = [tensor._version for tensor in state.values()] if pure else []
        with _within_memory(f"the reference {type(module).__name__}.{method}"), _seeded(seed):
            if not pure:
                state = {name: tensor.clone() for name, tensor in state.items()}
            if state.keys() == layout.names:
                # The usual case: the shell has exactly the reference's tensors. The instance
                # serves this shell alone, so they are put in place for good (cheaper than
                # functional_call's swap and restore, which the next call would redo).
                for name, where, local in layout.places:
                    where[local] = state[name]
                result = getattr(module, method)(*args, **kwargs)
            else:
                caller = _MethodCaller(module, method)
                result = torch.func.functional_call(
                    caller, {f"target.{k}": v for k, v in state.items()}, args, kwargs
                )
        if pure and any(t._version != v for t, v in zip(state.values(), versions, strict=True)):
            raise RuntimeError(
                f"the reference {type(module).__name__}.{method} changed its tensors in place"
            )
        changed = _changes(layout, watched)
        return result, changed
