#!/usr/bin/env bash
# Trains the committed 32 px models of models/natural32 on the images of
# ../shared/data (FFHQ faces and ImageNet validation images), holding out
# the first 8 of each folder for the benchmark. Each command resumes from
# its checkpoint when interrupted: run this script again.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=(--data ../shared/data/ffhq --data ../shared/data/imagenet-val --holdout 8 --resolution 32 --base 16 --batch 16 --eval-images 8 --eval-draws 2)
out=models/natural32
bin/ipbench train denoiser "${data[@]}" --steps 3000 --out $out/denoiser
bin/ipbench train eps "${data[@]}" --tasks all --init $out/denoiser/denoiser.ipbw --steps 2500 --lr 5e-4 --p-mean 0 --p-std 2 --out $out/eps
bin/ipbench train restorer "${data[@]}" --tasks all --init $out/denoiser/denoiser.ipbw --steps 1500 --lr 5e-4 --out $out/restorer
