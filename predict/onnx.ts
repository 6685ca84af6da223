/**
 * The demand model as an ONNX file, written with the ONNX protobuf schema (onnx-proto, generated
 * from ONNX v1.10.2's onnx.proto by protobufjs). One graph for both model kinds:
 *
 *   inputs  features [N, F] float32, level [N, 1] float32
 *   ratio   = TreeEnsembleRegressor(features)          (ai.onnx.ml, aggregate SUM, base = start value)
 *           | Sub/Mul/Clip, MatMul/Add/Relu … MatMul/Add(features)   (MLP: standardise, layers)
 *   output  arrivals [N, 1] = Relu(ratio × level)
 *
 * so a shell passes every profile of a batch in one `run`. The file carries the feature list and
 * horizon in metadata_props (`fgo.demand`), and nothing that varies between runs (no time, no
 * paths): the same model gives the same bytes.
 */
import onnxProto from 'onnx-proto';
import type { GbtModel } from './gbt.ts';
import { CLIP, type MlpModel } from './mlp.ts';
import { MODEL_FORMAT, type DemandModel, type ModelMeta } from './model.ts';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type IAttr = onnxProto.onnx.IAttributeProto;
type ITensor = onnxProto.onnx.ITensorProto;
const A = onnx.AttributeProto.AttributeType;

export const META_KEY = 'fgo.demand';
/** IR 8 and opsets 15 / ai.onnx.ml 3: ONNX 1.10, which the schema is from; onnxruntime reads them all. */
const IR_VERSION = 8;
const OPSETS = [
  { domain: '', version: 15 },
  { domain: 'ai.onnx.ml', version: 3 },
];

const ints = (name: string, v: ArrayLike<number>): IAttr => ({ name, type: A.INTS, ints: Array.from(v) });
const floats = (name: string, v: ArrayLike<number>): IAttr => ({ name, type: A.FLOATS, floats: Array.from(v) });
const strings = (name: string, v: string[]): IAttr => ({ name, type: A.STRINGS, strings: v.map((s) => new TextEncoder().encode(s)) });
const str = (name: string, v: string): IAttr => ({ name, type: A.STRING, s: new TextEncoder().encode(v) });

function floatTensor(name: string, dims: number[], values: Float32Array): ITensor {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/** The trees as one TreeEnsembleRegressor node: nodes listed tree by tree, leaves by their node id. */
function treeNode(g: GbtModel, input: string, output: string): INode {
  const n = { tree: [] as number[], node: [] as number[], feat: [] as number[], val: [] as number[], mode: [] as string[], t: [] as number[], f: [] as number[] };
  const leaf = { tree: [] as number[], node: [] as number[], w: [] as number[] };
  g.trees.forEach((t, ti) => {
    t.feature.forEach((feature, k) => {
      const isLeaf = feature < 0;
      n.tree.push(ti);
      n.node.push(k);
      n.feat.push(isLeaf ? 0 : feature);
      n.val.push(isLeaf ? 0 : (t.threshold[k] as number));
      n.mode.push(isLeaf ? 'LEAF' : 'BRANCH_LEQ');
      n.t.push(isLeaf ? 0 : (t.left[k] as number));
      n.f.push(isLeaf ? 0 : (t.right[k] as number));
      if (isLeaf) {
        leaf.tree.push(ti);
        leaf.node.push(k);
        leaf.w.push(t.value[k] as number);
      }
    });
  });
  return {
    name: 'trees', opType: 'TreeEnsembleRegressor', domain: 'ai.onnx.ml', input: [input], output: [output],
    attribute: [
      str('aggregate_function', 'SUM'),
      floats('base_values', [g.base]),
      { name: 'n_targets', type: A.INT, i: 1 },
      ints('nodes_falsenodeids', n.f),
      ints('nodes_featureids', n.feat),
      strings('nodes_modes', n.mode),
      ints('nodes_nodeids', n.node),
      ints('nodes_treeids', n.tree),
      ints('nodes_truenodeids', n.t),
      floats('nodes_values', n.val),
      str('post_transform', 'NONE'),
      ints('target_ids', leaf.tree.map(() => 0)),
      ints('target_nodeids', leaf.node),
      ints('target_treeids', leaf.tree),
      floats('target_weights', leaf.w),
    ],
  };
}

/** The MLP as MatMul/Add(/Relu) nodes and their weights as initializers. */
function mlpNodes(m: MlpModel, input: string, output: string): { nodes: INode[]; init: ITensor[] } {
  const nodes: INode[] = [
    { name: 'center', opType: 'Sub', input: [input, 'mean'], output: ['centered'] },
    { name: 'standardize', opType: 'Mul', input: ['centered', 'inv_sd'], output: ['scaled_in'] },
    { name: 'clip', opType: 'Clip', input: ['scaled_in', 'clip_lo', 'clip_hi'], output: ['standardized'] },
  ];
  const init: ITensor[] = [
    floatTensor('mean', [m.n_features], m.mean),
    floatTensor('inv_sd', [m.n_features], m.inv_sd),
    floatTensor('clip_lo', [], Float32Array.of(-CLIP)),
    floatTensor('clip_hi', [], Float32Array.of(CLIP)),
  ];
  let x = 'standardized';
  m.layers.forEach((l, i) => {
    const last = i === m.layers.length - 1;
    init.push(floatTensor(`w${i}`, [l.in, l.out], l.w), floatTensor(`b${i}`, [l.out], l.b));
    nodes.push({ name: `matmul${i}`, opType: 'MatMul', input: [x, `w${i}`], output: [`mm${i}`] });
    nodes.push({ name: `add${i}`, opType: 'Add', input: [`mm${i}`, `b${i}`], output: [last ? output : `z${i}`] });
    if (!last) nodes.push({ name: `relu${i}`, opType: 'Relu', input: [`z${i}`], output: [(x = `h${i}`)] });
  });
  return { nodes, init };
}

/** The model as ONNX bytes. */
export function modelToOnnx(m: DemandModel): Uint8Array {
  const F = m.meta.features.length;
  const body = m.regressor.kind === 'gbt' ? { nodes: [treeNode(m.regressor, 'features', 'ratio')], init: [] } : mlpNodes(m.regressor, 'features', 'ratio');
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'fgo_demand',
    node: [...body.nodes, { name: 'scale', opType: 'Mul', input: ['ratio', 'level'], output: ['scaled'] }, { name: 'clamp', opType: 'Relu', input: ['scaled'], output: ['arrivals'] }],
    initializer: body.init,
    input: [valueInfo('features', ['N', F]), valueInfo('level', ['N', 1])],
    output: [valueInfo('arrivals', ['N', 1])],
  };
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: OPSETS,
    producerName: 'fgo',
    producerVersion: MODEL_FORMAT,
    docString: 'fgo demand predictor: arrivals over the next horizon per profile; inputs features [N,F] and level [N,1] (recent level × horizon intervals)',
    graph,
    metadataProps: [{ key: META_KEY, value: JSON.stringify(m.meta) }],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The `fgo.demand` metadata of ONNX bytes; throws when the bytes do not decode or lack it. */
export function readOnnxMeta(bytes: Uint8Array): ModelMeta {
  const model = onnx.ModelProto.decode(bytes);
  const prop = model.metadataProps.find((p) => p.key === META_KEY);
  if (!prop?.value) throw new Error(`no ${META_KEY} metadata: not an fgo demand model`);
  const meta = JSON.parse(prop.value) as ModelMeta;
  if (meta.format !== MODEL_FORMAT) throw new Error(`model format ${String(meta.format)}, expected ${MODEL_FORMAT}`);
  return meta;
}
