"""The worker's side of the shims: stand-in modules for the reference of earlier parts.

A shim module has the reference module's public names. Its functions and classes call the
grader's :class:`~autograder.grader.channel.shims.ShimService`; an ``nn.Module`` class
builds a *shell*: a module with the reference's submodule tree, parameter and buffer names
and values, whose ``forward`` (and public methods such as ``encode``) run in the grader with
the shell's current parameters, gradients flowing back to them. ``state_dict``,
``load_state_dict``, ``.to()`` and optimisers work on a shell as on any module.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable
from typing import Any

import torch

from autograder.grader.channel.errors import BoundedCache, identifier
from autograder.grader.channel.kept import Kept, KeptGroup
from autograder.grader.channel.proxies import RemoteObject, call_method

__builtins__ = dict(vars(builtins))  # the runtime keeps its builtins whatever student code patches
_RANDINT = torch.randint
_MODULE_INIT = torch.nn.Module.__init__


class ShimModule(torch.nn.Module):
    """A worker-side shell of a reference ``nn.Module``: real parameters, remote forward.

    It has the reference's submodule tree, parameter and buffer names and values, so
    ``state_dict``, ``load_state_dict``, ``.to()`` and optimisers work on it as usual; its
    ``forward`` (and public methods such as ``encode``) run in the grader with the shell's
    current parameters, gradients flowing back to them.
    """

    _shim_service: RemoteObject
    _shim_instance: RemoteObject
    _shim_path: str
    _shim_names: tuple[str, ...]

    def _shim_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        names, tensors, training = _walk(self)
        state: KeptGroup | dict[str, Kept]
        if names == vars(self).get("_shim_names"):
            # The names the shell was built with, in the reference's order: the grader
            # knows them, so only the tensors travel (their slots, when it holds them).
            state = KeptGroup(tensors)
        else:
            state = {name: Kept(tensor) for name, tensor in zip(names, tensors, strict=True)}
        result, changed = call_method(
            self._shim_service,
            "module_call",
            self._shim_instance,
            self._shim_path,
            method,
            _draw_seed(),
            state,
            training,
            args,
            kwargs,
        )
        for path, values in changed.items():
            node = self.get_submodule(path) if path else self
            for name, value in values.items():
                setattr(node, name, value)
        return result

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._shim_call("forward", args, kwargs)


def _walk(root: torch.nn.Module) -> tuple[tuple[str, ...], list[torch.Tensor], str]:
    """The shell's tensor names and tensors, as ``named_parameters()`` then
    ``named_buffers()`` list them, and one character per submodule of ``modules()`` ("1" in
    training mode): one walk of the tree instead of three of torch's generators."""
    modules: list[tuple[str, torch.nn.Module]] = []
    seen: set[int] = set()
    stack: list[tuple[str, torch.nn.Module]] = [("", root)]
    while stack:
        prefix, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        modules.append((prefix, module))
        children = [
            (f"{prefix}.{name}" if prefix else name, child)
            for name, child in module._modules.items()
            if child is not None
        ]
        stack.extend(reversed(children))
    names: list[str] = []
    tensors: list[torch.Tensor] = []
    for kind in ("_parameters", "_buffers"):
        unique: set[int] = set()
        for prefix, module in modules:
            for name, tensor in getattr(module, kind).items():
                if tensor is None or id(tensor) in unique:
                    continue
                unique.add(id(tensor))
                names.append(f"{prefix}.{name}" if prefix else name)
                tensors.append(tensor)
    training = "".join("1" if module.training else "0" for _, module in modules)
    return tuple(names), tensors, training


def _draw_seed() -> int:
    """A seed for the grader's random draws, taken from the worker's generator."""
    return int(_RANDINT(0, 2**62, (1,)).item())


_shell_classes: BoundedCache[tuple[str, str, tuple[str, ...]], type[ShimModule]] = BoundedCache()


def _shell_class(module_name: str, type_name: str, methods: list[str]) -> type[ShimModule]:
    key = (module_name, type_name, tuple(methods))
    cls = _shell_classes.get(key)
    if cls is None:
        namespace: dict[str, Any] = {"__module__": module_name}
        for method in methods:
            if method != "forward" and method.isidentifier():
                namespace[method] = _shell_method(method)
        cls = type(identifier(type_name, "Shell"), (ShimModule,), namespace)
        _shell_classes.put(key, cls)
    return cls


def _shell_method(method: str) -> Callable[..., Any]:
    def call(self: ShimModule, *args: Any, **kwargs: Any) -> Any:
        return self._shim_call(method, args, kwargs)

    call.__name__ = method
    return call


_skeletons: dict[int, Any] = {}
"""The skeletons the grader sent, by id (it sends each once; see ``ShimService._structure``)."""


def _build_shell(
    shell: ShimModule,
    service: RemoteObject,
    instance: RemoteObject,
    description: tuple[int | None, Any, list[torch.Tensor]],
    module_name: str,
) -> None:
    known, skeleton, tensors = description
    if skeleton is None:
        skeleton = _skeletons[known]
    elif known is not None:
        _skeletons[known] = skeleton
    values = iter(tensors)
    shared: dict[int, torch.nn.Parameter] = {}
    by_path: dict[str, ShimModule] = {}
    for path, type_name, methods, params, buffers, attrs, training in skeleton:
        if path:
            cls = _shell_class(module_name, type_name, list(methods))
            module = cls.__new__(cls)
            _MODULE_INIT(module)
            parent, _, name = path.rpartition(".")
            by_path[parent].add_module(name, module)
        else:
            module = shell
        object.__setattr__(module, "_shim_service", service)
        object.__setattr__(module, "_shim_instance", instance)
        object.__setattr__(module, "_shim_path", path)
        by_path[path] = module
        for name, index in params:
            if index is None:
                module.register_parameter(name, None)
                continue
            if index not in shared:
                shared[index] = torch.nn.Parameter(next(values))
            module.register_parameter(name, shared[index])
        for name, persistent, present in buffers:
            module.register_buffer(name, next(values) if present else None, persistent=persistent)
        # Plain data (never a parameter, buffer or module): straight into the attributes,
        # as nn.Module.__setattr__ would put it, without its checks.
        attributes = vars(module)
        for name, value in attrs:
            attributes[name] = value
        attributes["training"] = training is True
    object.__setattr__(shell, "_shim_names", skeleton_names(skeleton))


def skeleton_names(skeleton: Any) -> tuple[str, ...]:
    """The tensor names of a shell built from ``skeleton``, as its ``named_parameters()`` and
    then ``named_buffers()`` list them: each parameter once (tied ones share an index), each
    present buffer where it is registered.

    The grader lists them from the same skeleton (``ShimService._structure``), so a shell
    whose names are still these sends its tensors without them.
    """
    params: list[str] = []
    buffers: list[str] = []
    seen: set[int] = set()
    for path, _, _, node_params, node_buffers, _, _ in skeleton:
        prefix = f"{path}." if path else ""
        for name, index in node_params:
            if index is not None and index not in seen:
                seen.add(index)
                params.append(prefix + name)
        buffers += [prefix + name for name, _, present in node_buffers if present]
    return (*params, *buffers)


def make_shim_module(name: str, description: dict[str, Any]) -> types.ModuleType:
    """The worker's stand-in for a reference module (see :class:`ShimService`)."""
    service = description["service"]
    short = name.rpartition(".")[2]
    module = types.ModuleType(name, f"Module {short} of the reference, run by the grader.")
    for attr, (kind, extra) in description["names"].items():
        if kind == "data":
            setattr(module, attr, extra)
        elif kind == "function":
            setattr(module, attr, _shim_function(service, short, attr, name))
        elif kind == "class":
            setattr(module, attr, _shim_function(service, short, attr, name, construct=True))
        elif kind == "module":
            setattr(module, attr, _shim_module_class(service, short, attr, extra, name))
    return module


def _shim_function(
    service: RemoteObject, module: str, attr: str, qualified: str, construct: bool = False
) -> Callable[..., Any]:
    def shim(*args: Any, **kwargs: Any) -> Any:
        method = "construct" if construct else "call"
        return call_method(service, method, module, attr, _draw_seed(), args, kwargs)

    shim.__name__ = shim.__qualname__ = attr
    shim.__module__ = qualified
    shim.__doc__ = f"{attr} of the reference implementation, run by the grader."
    return shim


def _shim_module_class(
    service: RemoteObject, module: str, attr: str, methods: list[str], qualified: str
) -> type[ShimModule]:
    base = _shell_class(qualified, attr, methods)

    def __init__(self: ShimModule, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        _MODULE_INIT(self)
        instance, description = call_method(
            service, "construct", module, attr, _draw_seed(), args, kwargs
        )
        _build_shell(self, service, instance, description, qualified)

    return type(attr, (base,), {"__init__": __init__, "__module__": qualified})
