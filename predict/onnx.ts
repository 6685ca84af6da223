/**
 * The demand model as an ONNX file, written with the ONNX protobuf schema (onnx-proto, generated
 * from ONNX v1.10.2's onnx.proto by protobufjs). One graph:
 *
 *   inputs     features [N, F], level [N, 1], anchor [N, 1]   (float32)
 *   residuals  r50, r90 = TreeEnsembleRegressor(features)   (ai.onnx.ml, aggregate SUM; one per quantile)
 *   outputs    arrivals [N, 1] = Relu(anchor + r50 × level), arrivals_p90 [N, 1] = Relu(anchor + r90 × level)
 *
 * so a shell passes every profile of a batch in one `run`. The file carries the feature list and
 * horizon in metadata_props (`fgo.demand`), and nothing that varies between runs (no time, no
 * paths): the same model gives the same bytes.
 */
import onnxProto from 'onnx-proto';
import type { GbtModel } from './gbt.ts';
import { MODEL_FORMAT, type DemandModel, type ModelMeta } from './model.ts';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type IAttr = onnxProto.onnx.IAttributeProto;
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
const strings = (name: string, v: string[]): IAttr => ({
  name,
  type: A.STRINGS,
  strings: v.map((s) => new TextEncoder().encode(s)),
});
const str = (name: string, v: string): IAttr => ({ name, type: A.STRING, s: new TextEncoder().encode(v) });

function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/**
 * One quantile's trees as one TreeEnsembleRegressor node: nodes listed tree by tree, leaves by
 * their node id. (One node per quantile: onnxruntime ran a single two-target node about 1.5 ×
 * slower than two one-target nodes, bench/predict.ts.)
 */
function treeNode(g: GbtModel, name: string, input: string, output: string): INode {
  const n = {
    tree: [] as number[],
    node: [] as number[],
    feat: [] as number[],
    val: [] as number[],
    mode: [] as string[],
    t: [] as number[],
    f: [] as number[],
  };
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
    name,
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    input: [input],
    output: [output],
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
      ints(
        'target_ids',
        leaf.tree.map(() => 0),
      ),
      ints('target_nodeids', leaf.node),
      ints('target_treeids', leaf.tree),
      floats('target_weights', leaf.w),
    ],
  };
}

/** The model as ONNX bytes. */
export function modelToOnnx(m: DemandModel): Uint8Array {
  const F = m.meta.features.length;
  const quantile = (q: 'p50' | 'p90', out: string): INode[] => [
    treeNode(m[q], `trees_${q}`, 'features', `residual_${q}`),
    { name: `scale_${q}`, opType: 'Mul', input: [`residual_${q}`, 'level'], output: [`scaled_${q}`] },
    { name: `anchor_${q}`, opType: 'Add', input: [`scaled_${q}`, 'anchor'], output: [`anchored_${q}`] },
    { name: `clamp_${q}`, opType: 'Relu', input: [`anchored_${q}`], output: [out] },
  ];
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'fgo_demand',
    node: [...quantile('p50', 'arrivals'), ...quantile('p90', 'arrivals_p90')],
    input: [valueInfo('features', ['N', F]), valueInfo('level', ['N', 1]), valueInfo('anchor', ['N', 1])],
    output: [valueInfo('arrivals', ['N', 1]), valueInfo('arrivals_p90', ['N', 1])],
  };
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: OPSETS,
    producerName: 'fgo',
    producerVersion: MODEL_FORMAT,
    docString:
      "fgo demand predictor: arrivals over the next horizon per profile, P50 and P90; inputs features [N,F], level [N,1] (recent level × horizon intervals), anchor [N,1] (the baselines' ensemble)",
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
